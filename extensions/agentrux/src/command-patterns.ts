/**
 * execPolicy.allowedCommands as regexes, each anchored to match a whole command. Apart from
 * exec-policy.ts so the config schema can check the patterns without importing the session code
 * (which imports the manifest, which imports the schema).
 */

/** `^(?:p)$` for each pattern; throws naming a pattern that is not a valid regex. */
export function compileAllowed(patterns: readonly string[]): RegExp[] {
  return patterns.map((p) => {
    try {
      return new RegExp(`^(?:${p})$`);
    } catch (err) {
      throw new Error(
        `execPolicy.allowedCommands: "${p}" is not a valid regular expression (${(err as Error).message})`,
      );
    }
  });
}
