# syntax=docker/dockerfile:1
# The bundle image: the official OpenClaw image plus the four extensions, the entrypoint and the
# Pilot binaries. No registry is reachable in this project's CI, so tests pass a locally built
# stand-in with the same layout (scripts/docker/build-base.sh); this file is the same for both.
ARG OPENCLAW_IMAGE=ghcr.io/openclaw/openclaw:2026.9.6
# `release` installs Pilot binaries from PILOT_URL, verified against PILOT_SHA256 (both required:
# the upstream release address could not be checked from here, so none is baked in); `none`
# (default) leaves them out and agent messages use the registry's HTTP relay; `standin` (test
# images only) installs the test stand-in of test/mocks/pilot, which honours the real CLI contract.
ARG PILOT_SOURCE=none

# --- production dependencies of the bundle (no dev tools, no test code) ----------------------------
FROM ${OPENCLAW_IMAGE} AS deps
USER root
WORKDIR /opt/openclaw-bundle
COPY package.json package-lock.json ./
COPY packages/shared/package.json packages/shared/
COPY extensions/clawmatrix/package.json extensions/clawmatrix/
COPY extensions/agentrux/package.json extensions/agentrux/
COPY extensions/agent-registry/package.json extensions/agent-registry/
COPY extensions/auth-manager/package.json extensions/auth-manager/
# `npm ci`: exactly the lock file, as CI installs it. --legacy-peer-deps: the extensions' peer `openclaw` is the image's own (the gateway resolves
# plugin-sdk imports itself), so it must not be installed a second time.
# Behind a TLS-intercepting proxy, put its CA in scripts/docker/ca/*.pem: trusted by npm in this
# stage only, never copied into the image.
COPY scripts/docker/ca/ /tmp/build-ca/
RUN if ls /tmp/build-ca/*.pem >/dev/null 2>&1; then cat /tmp/build-ca/*.pem > /tmp/build-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem; fi \
 && npm ci --omit=dev --legacy-peer-deps --ignore-scripts --no-audit --no-fund --loglevel=error \
 && npm cache clean --force >/dev/null 2>&1 \
 && rm -rf /tmp/build-ca /tmp/build-ca.pem

# --- the extensions compiled to plugin packages (scripts/build.ts), which the gateway loads ----------
# Each is one JavaScript module with its npm packages bundled in, so the stage needs the production
# dependencies (from `deps`) and the bundler package.json pins (rolldown), installed at that exact
# version into a folder of its own: the full dev install (1.1 GB, openclaw among it) is not needed.
FROM ${OPENCLAW_IMAGE} AS build
USER root
WORKDIR /opt/openclaw-bundle
COPY --from=deps /opt/openclaw-bundle /opt/openclaw-bundle
COPY scripts/docker/ca/ /tmp/build-ca/
RUN if ls /tmp/build-ca/*.pem >/dev/null 2>&1; then cat /tmp/build-ca/*.pem > /tmp/build-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem; fi \
 && mkdir -p /opt/build-tool && cd /opt/build-tool \
 && echo '{"private":true}' > package.json \
 && npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
      "rolldown@$(node -p 'require("/opt/openclaw-bundle/package.json").devDependencies.rolldown')" \
 && rm -rf /tmp/build-ca /tmp/build-ca.pem
COPY packages packages
COPY extensions extensions
COPY scripts/build.ts scripts/build.ts
RUN BUNDLE_TOOL_DIR=/opt/build-tool node scripts/build.ts

# --- Pilot binaries --------------------------------------------------------------------------------
# One stage for both sources, because the legacy builder builds every stage whether used or not.
FROM ${OPENCLAW_IMAGE} AS pilot
ARG PILOT_SOURCE
ARG PILOT_URL=""
ARG PILOT_SHA256=""
USER root
COPY test/mocks/pilot/bin /tmp/pilot-standin/bin
COPY test/mocks/pilot/src /tmp/pilot-standin/src
RUN mkdir -p /opt/pilot/bin \
 && if [ "$PILOT_SOURCE" = "none" ]; then exit 0; fi \
 && if [ "$PILOT_SOURCE" = "standin" ]; then cp -r /tmp/pilot-standin/. /opt/pilot/ && exit 0; fi \
 && { test -n "$PILOT_URL" && test -n "$PILOT_SHA256"; } || { echo "PILOT_SOURCE=release needs PILOT_URL and PILOT_SHA256 (the archive's checksum)" >&2; exit 1; } \
 && node -e 'fetch(process.argv[1]).then(async r=>{if(!r.ok)throw new Error("HTTP "+r.status);require("fs").writeFileSync("/tmp/pilot.tgz",Buffer.from(await r.arrayBuffer()))})' "$PILOT_URL" \
 && echo "$PILOT_SHA256  /tmp/pilot.tgz" | sha256sum -c - \
 && tar -xzf /tmp/pilot.tgz -C /opt/pilot/bin pilot-daemon pilotctl \
 && rm /tmp/pilot.tgz

# --- the mocks of the test topology (compose services mock-llm, mock-broker, mock-registry) --------
# Before the bundle stage on purpose: the last stage is the default target.
FROM ${OPENCLAW_IMAGE} AS mocks
USER root
COPY --from=deps /opt/openclaw-bundle /opt/openclaw-bundle
COPY test/mocks /opt/openclaw-bundle/test/mocks
RUN chmod -R a-w,a+rX /opt/openclaw-bundle
USER node
WORKDIR /opt/openclaw-bundle
ENTRYPOINT ["tini", "--", "node"]

# --- the image -------------------------------------------------------------------------------------
FROM ${OPENCLAW_IMAGE}
ARG OPENCLAW_IMAGE
LABEL org.opencontainers.image.title="openclaw-bundle" \
      org.opencontainers.image.description="OpenClaw gateway with the mesh, AgenTrux, Agent Registry and Codex lease extensions" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="${OPENCLAW_IMAGE}"
USER root
COPY --from=pilot /opt/pilot /opt/pilot
COPY --from=deps /opt/openclaw-bundle /opt/openclaw-bundle
COPY packages /opt/openclaw-bundle/packages
COPY extensions /opt/openclaw-bundle/extensions
# What the gateway loads: the compiled plugin packages (entrypoint.sh points it at dist/extensions).
# The TypeScript sources in extensions/ are there only for scripts/config, which reads their
# config schemas before the gateway starts.
COPY --from=build /opt/openclaw-bundle/dist/extensions /opt/openclaw-bundle/dist/extensions
COPY scripts/config /opt/openclaw-bundle/scripts/config
COPY scripts/healthcheck.ts /opt/openclaw-bundle/scripts/healthcheck.ts
COPY entrypoint.sh platform-config.json /opt/openclaw-bundle/
COPY scripts/docker/warm-compile-cache.sh /opt/openclaw-bundle/scripts/docker/warm-compile-cache.sh
# Extensions are baked read-only, owned by the gateway's user (OpenClaw refuses plugin folders
# that are world-writable or owned by another uid); state lives only in the volumes.
RUN chown -R node:node /opt/openclaw-bundle \
 && chmod -R a-w,a+rX /opt/openclaw-bundle \
 && chmod 555 /opt/openclaw-bundle/entrypoint.sh \
 && mkdir -p /home/node/.openclaw /home/node/.agentrux /home/node/.pilot \
 && chown node:node /home/node/.openclaw /home/node/.agentrux /home/node/.pilot \
 && chmod 700 /home/node/.openclaw /home/node/.agentrux /home/node/.pilot
# Heap cap: a gateway with all four extensions uses 267 MB of a 388 MB heap once started (V8's
# report, measured); 1 GiB leaves room for work and fails fast rather than swapping a host whose
# container has no memory limit (V8 would otherwise size the heap from the host's memory). Set
# NODE_OPTIONS to override.
ENV OPENCLAW_BUNDLE_DIR=/opt/openclaw-bundle \
    OPENCLAW_COMMAND="node /app/openclaw.mjs" \
    OPENCLAW_GATEWAY_BIND=lan \
    PILOT_BIN_DIR=/opt/pilot/bin \
    NODE_ENV=production \
    NODE_OPTIONS="--max-old-space-size=1024"
# Node's compile cache of one start, made here as the gateway's user (the cache is per uid) and
# copied into $TMPDIR by entrypoint.sh, so that a new container starts warm (README, Performance).
RUN mkdir /opt/openclaw-bundle-cache && chown node:node /opt/openclaw-bundle-cache
USER node
RUN bash /opt/openclaw-bundle/scripts/docker/warm-compile-cache.sh /opt/openclaw-bundle /opt/openclaw-bundle-cache/compile-cache
USER root
RUN mv /opt/openclaw-bundle-cache/compile-cache /opt/openclaw-bundle/compile-cache \
 && rmdir /opt/openclaw-bundle-cache \
 && chmod -R a-w,a+rX /opt/openclaw-bundle/compile-cache
USER node
WORKDIR /home/node
VOLUME ["/home/node/.openclaw", "/home/node/.agentrux", "/home/node/.pilot"]
EXPOSE 18789 19000
HEALTHCHECK --interval=15s --timeout=30s --start-period=300s --retries=4 \
  CMD ["node", "/opt/openclaw-bundle/scripts/healthcheck.ts"]
ENTRYPOINT ["tini", "--", "/opt/openclaw-bundle/entrypoint.sh"]
