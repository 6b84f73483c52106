#!/usr/bin/env bash
# Image build step (Dockerfile, last stage, as the gateway's user): starts the gateway once through
# entrypoint.sh with all four extensions enabled (pointed at addresses where nothing answers), waits
# for /readyz, stops it with SIGTERM, and keeps the Node compile cache that start wrote (the
# host's modules and the extensions', about 60 MB). entrypoint.sh seeds $TMPDIR with it, so a new
# container starts warm: a cold start took 1.8x a bare gateway's time, a warm one 1.06x (issue 17).
# Usage: warm-compile-cache.sh <bundle dir> <cache dir to fill>
set -euo pipefail
bundle="$1"
out="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/tmp"
port=18789

HOME="$work/home" TMPDIR="$work/tmp" \
  OPENCLAW_GATEWAY_TOKEN="warm-cache-token-0123456789" OPENCLAW_GATEWAY_PORT="$port" OPENCLAW_GATEWAY_BIND=loopback \
  CLAWMATRIX_SECRET="warm-cache-secret-0123456789" CLAWMATRIX_NODE_ID=warm \
  AGENTRUX_BASE_URL=http://127.0.0.1:9 AGENTRUX_COMMAND_TOPIC_ID=warm.commands AGENTRUX_RESULT_TOPIC_ID=warm.results \
  AGENT_REGISTRY_URL=http://127.0.0.1:9 \
  AUTH_MANAGER_BASE_URL=http://127.0.0.1:9 AUTH_MANAGER_INTERNAL_API_TOKEN="warm-cache-token-0123456789" \
  AUTH_MANAGER_ALLOW_HTTP=true \
  "$bundle/entrypoint.sh" &
gateway=$!

ready=""
for _ in $(seq 1 300); do
  if ! kill -0 "$gateway" 2>/dev/null; then break; fi
  if node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' \
    "http://127.0.0.1:$port/readyz"; then
    ready=1
    break
  fi
  sleep 1
done
# Node writes the compile cache when the process exits, so the stop must be a clean one.
kill -TERM "$gateway" 2>/dev/null || true
status=0
wait "$gateway" || status=$?
if [[ -z "$ready" ]]; then
  echo "warm-compile-cache: the gateway did not become ready (exit $status)" >&2
  exit 1
fi
if [[ ! -d "$work/tmp/node-compile-cache" ]]; then
  echo "warm-compile-cache: the gateway wrote no compile cache under TMPDIR" >&2
  exit 1
fi
mkdir -p "$out"
cp -R "$work/tmp/node-compile-cache/." "$out/"
echo "warm-compile-cache: $(find "$out" -type f | wc -l) cached modules in $out (gateway exit $status)"
