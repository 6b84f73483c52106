/**
 * The host's plugin load profiler (`OPENCLAW_DIAGNOSTICS=plugin.load-profile`) writes one stderr
 * line per timed step, in a field order the host documents as stable:
 *
 *   [plugin-load-profile] phase=<X> plugin=<Y> elapsedMs=<N> [extras...] source=<S>
 *
 * This sums those lines per plugin and phase, so the bench can say what each extension costs at
 * load. Lines of other plugins are kept too: the caller picks the ids it reports.
 */
export interface LoadProfile {
  /** plugin id -> phase -> total ms, in the order first seen. */
  byPlugin: Map<string, Map<string, number>>;
  /** Lines that started like a profile line but did not parse (a changed host format). */
  unparsed: number;
}

const LINE = /^\[plugin-load-profile\] phase=(\S+) plugin=(\S+) elapsedMs=(\d+(?:\.\d+)?)(?: |$)/;

export function parseLoadProfile(text: string): LoadProfile {
  const byPlugin = new Map<string, Map<string, number>>();
  let unparsed = 0;
  for (const raw of text.split("\n")) {
    const at = raw.indexOf("[plugin-load-profile]");
    if (at < 0) continue;
    const m = LINE.exec(raw.slice(at));
    if (!m) {
      unparsed++;
      continue;
    }
    const [, phase, plugin, ms] = m as unknown as [string, string, string, string];
    const phases = byPlugin.get(plugin) ?? new Map<string, number>();
    phases.set(phase, (phases.get(phase) ?? 0) + Number(ms));
    byPlugin.set(plugin, phases);
  }
  return { byPlugin, unparsed };
}

/** Total ms of one plugin across its phases (0 when the profile never named it). */
export function pluginTotalMs(profile: LoadProfile, plugin: string): number {
  let total = 0;
  for (const ms of profile.byPlugin.get(plugin)?.values() ?? []) total += ms;
  return total;
}
