#!/usr/bin/env bash
# Lints the bundle's shell scripts with ShellCheck; skipped (saying so) where it is not installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "lint:shell skipped: shellcheck is not installed (Debian: apt-get install shellcheck)"
  exit 0
fi
shellcheck entrypoint.sh .ci/run scripts/lint-shell.sh scripts/docker/build-base.sh
echo "shellcheck: clean"
