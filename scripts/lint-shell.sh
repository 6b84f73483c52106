#!/usr/bin/env bash
# Lints the bundle's shell scripts with ShellCheck; skipped (saying so) where it is not installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v shellcheck >/dev/null 2>&1; then
  # CI installs it first; there a missing linter is a failure, not a skip.
  if [[ "${CI:-}" == "true" ]]; then echo "lint:shell: shellcheck is not installed" >&2; exit 1; fi
  echo "lint:shell skipped: shellcheck is not installed (Debian: apt-get install shellcheck)"
  exit 0
fi
shellcheck bundle entrypoint.sh .ci/run scripts/lint-shell.sh scripts/docker/build-base.sh scripts/docker/warm-compile-cache.sh
echo "shellcheck: clean"
