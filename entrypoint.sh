#!/usr/bin/env bash
# The bundle's entrypoint, in the image (PID 1 is tini) and on a plain machine alike:
#   1. validate the environment and bring openclaw.json to the desired state (scripts/config/cli.ts);
#      this also hands a one-time AGENTRUX_ACTIVATION_CODE to ~/.agentrux/BOOTSTRAP.md;
#   2. start the Pilot daemon when Pilot is configured and installed, supervised;
#   3. exec the gateway (or the command given as arguments), so SIGTERM reaches it directly.
# `entrypoint.sh --dry-run` validates and prints the effective openclaw.json, writing nothing.
set -euo pipefail

BUNDLE_DIR="${OPENCLAW_BUNDLE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
NODE_BIN="${OPENCLAW_BUNDLE_NODE:-node}"
export OPENCLAW_BUNDLE_DIR="$BUNDLE_DIR"

log() { printf '[entrypoint] %s\n' "$*" >&2; }

# A gateway in a container must not advertise itself, respawn or update itself.
export OPENCLAW_DISABLE_BONJOUR="${OPENCLAW_DISABLE_BONJOUR:-1}"
export OPENCLAW_NO_RESPAWN="${OPENCLAW_NO_RESPAWN:-1}"
export OPENCLAW_NO_AUTO_UPDATE="${OPENCLAW_NO_AUTO_UPDATE:-1}"

if [[ "${1:-}" == "--dry-run" ]]; then
  exec "$NODE_BIN" "$BUNDLE_DIR/scripts/config/cli.ts" --dry-run
fi

# The CLI validates every variable the daemon's flags come from, and prints those flags (one per
# line) when Pilot is configured: no arithmetic or path building on raw values here.
status=0
pilot_flags="$("$NODE_BIN" "$BUNDLE_DIR/scripts/config/cli.ts")" || status=$?
if [[ $status -ne 0 ]]; then
  log "not starting: the configuration step failed (exit $status)"
  exit "$status"
fi

# --- Pilot daemon (optional P2P transport of the agent-registry extension) ---------------------
pilot_bin() {
  local dir="${PILOT_BIN_DIR:-/opt/pilot/bin}"
  if [[ -x "$dir/pilot-daemon" ]]; then
    printf '%s\n' "$dir/pilot-daemon"
  else
    command -v pilot-daemon 2>/dev/null || true
  fi
}

# Restarts the daemon with backoff (1 s doubling to 60 s) while the gateway lives; stops it when
# the gateway is gone. Runs in the background, so the gateway can still be exec'd as this PID.
supervise_pilot() {
  local gateway_pid=$1 bin=$2
  shift 2
  local delay=1 child=""
  trap '[[ -n "$child" ]] && kill "$child" 2>/dev/null; exit 0' TERM INT
  while kill -0 "$gateway_pid" 2>/dev/null; do
    "$bin" "$@" &
    child=$!
    log "pilot-daemon started (pid $child)"
    local started=$SECONDS
    while kill -0 "$child" 2>/dev/null && kill -0 "$gateway_pid" 2>/dev/null; do sleep 1; done
    if ! kill -0 "$gateway_pid" 2>/dev/null; then break; fi
    wait "$child" && rc=0 || rc=$?
    child=""
    # A daemon that ran for a while before dying starts over from the shortest delay.
    if ((SECONDS - started > 60)); then delay=1; fi
    log "pilot-daemon exited ($rc); restarting in ${delay}s"
    sleep "$delay"
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  done
  if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
    kill "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  log "pilot-daemon stopped with the gateway"
}

if [[ -n "$pilot_flags" ]]; then
  bin="$(pilot_bin)"
  if [[ -z "$bin" ]]; then
    log "PILOT_REGISTRY is set but pilot-daemon is not installed; agent messages use the registry's HTTP relay"
  else
    mapfile -t args <<<"$pilot_flags"
    supervise_pilot $$ "$bin" "${args[@]}" &
  fi
fi

# --- Node compile cache ------------------------------------------------------------------------
# The image ships the compile cache of one start (scripts/docker/warm-compile-cache.sh). The host
# keeps its cache under $TMPDIR, which is empty in a new container (an emptyDir on Kubernetes), so
# it is seeded from the image's copy (about 0.2 s); a start without it is only slower.
# Each start adds the extensions' modules to it again (about 3.5 MB: the host loads them from a
# capture directory that is new at every start, and the cache keys on a module's path), and
# $TMPDIR outlives the container on Kubernetes (an emptyDir of 512 MiB): a cache over 256 MB is
# started over from the seed, so restarts never fill the scratch space.
seed="$BUNDLE_DIR/compile-cache"
cache="${TMPDIR:-/tmp}/node-compile-cache"
cache_max_mb=256
if [[ -d "$cache" ]]; then
  used_mb="$(du -sm "$cache" 2>/dev/null | cut -f1)"
  if [[ "${used_mb:-0}" =~ ^[0-9]+$ && "${used_mb:-0}" -gt $cache_max_mb ]]; then
    log "the compile cache in $cache holds ${used_mb} MB, over ${cache_max_mb} MB; starting it over"
    rm -rf "$cache" 2>/dev/null || log "could not clear $cache"
  fi
fi
if [[ -d "$seed" && ! -e "$cache" ]]; then
  if ! { cp -R "$seed" "$cache" && chmod -R u+w "$cache"; } 2>/dev/null; then
    log "could not seed the compile cache in $cache; starting without it"
    rm -rf "$cache" 2>/dev/null || true
  fi
fi

# --- the gateway ------------------------------------------------------------------------------
if [[ $# -eq 0 ]]; then
  read -r -a gateway_cmd <<<"${OPENCLAW_COMMAND:-openclaw}"
  set -- "${gateway_cmd[@]}" gateway run
fi
log "starting: $*"
exec "$@"
