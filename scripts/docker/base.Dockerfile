# A stand-in for the official OpenClaw image (ghcr.io/openclaw/openclaw), built locally because no
# container registry is reachable here: Debian bookworm (mmdebstrap), Node 24, npm, openclaw from
# npm laid out under /app as in the official image, user `node` (uid 1000), tini as PID 1.
# Built by scripts/docker/build-base.sh; the bundle's Dockerfile is the same on either base.
ARG DEBIAN_ROOTFS=openclaw-bundle-debian:bookworm
FROM ${DEBIAN_ROOTFS}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --create-home --shell /bin/bash node
COPY --chown=node:node app /app
WORKDIR /app
ENV NODE_ENV=production
USER node
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s CMD ["node", "-e", "fetch('http://127.0.0.1:18789/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["tini", "--"]
CMD ["node", "/app/openclaw.mjs", "gateway", "--bind", "lan", "--port", "18789"]
