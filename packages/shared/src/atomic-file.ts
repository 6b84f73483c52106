import { randomBytes } from "node:crypto";
import {
  closeSync,
  fchmodSync,
  promises as fs,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { BundleError, SHARED_CODES } from "./errors.ts";

interface AtomicWriteOptions {
  /** File mode of the result, e.g. 0o600 for credentials. Defaults to 0o644. */
  mode?: number;
  /** Mode of parent directories it creates. Defaults to 0o700. */
  dirMode?: number;
}

/** A temp file's name beside `file`, unique to this process and call. */
function tempBeside(file: string): string {
  return path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`,
  );
}

/**
 * Writes a file so that readers see either the old content or the new, never a half-written one:
 * write a temp file beside it, fsync it, rename over the target, fsync the directory. The mode is
 * set on the temp file before any byte is written, so a secret is never briefly world-readable.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const mode = opts.mode ?? 0o644;
  const dir = path.dirname(file);
  const tmp = tempBeside(file);
  try {
    await fs.mkdir(dir, { recursive: true, mode: opts.dirMode ?? 0o700 });
    const handle = await fs.open(tmp, "wx", mode);
    try {
      await handle.chmod(mode); // umask may have narrowed or widened it
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
    await syncDir(dir);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw new BundleError(SHARED_CODES.FILE_WRITE, `could not write ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * writeFileAtomic for code that must stay synchronous (a constructor reading its state): the same
 * steps, the same guarantees, blocking the thread for one small file.
 */
export function writeFileAtomicSync(
  file: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): void {
  const mode = opts.mode ?? 0o644;
  const dir = path.dirname(file);
  const tmp = tempBeside(file);
  try {
    mkdirSync(dir, { recursive: true, mode: opts.dirMode ?? 0o700 });
    const fd = openSync(tmp, "wx", mode);
    try {
      fchmodSync(fd, mode);
      writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    try {
      const d = openSync(dir, "r");
      try {
        fsyncSync(d);
      } finally {
        closeSync(d);
      }
    } catch {}
  } catch (err) {
    try {
      rmSync(tmp, { force: true });
    } catch {}
    throw new BundleError(SHARED_CODES.FILE_WRITE, `could not write ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Writes JSON (2-space, trailing newline) atomically. */
export function writeJsonAtomic(file: string, value: unknown, opts?: AtomicWriteOptions): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, opts);
}

/** Reads JSON; undefined when the file does not exist. A file that exists but does not parse is an error. */
export async function readJsonFile<T = unknown>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new BundleError("FILE_ERR_PARSE", `${file} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

async function syncDir(dir: string): Promise<void> {
  // Makes the rename itself durable. Some filesystems refuse fsync on a directory; that is fine.
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, "r");
    await handle.sync();
  } catch {
  } finally {
    await handle?.close().catch(() => {});
  }
}
