# flmrun-js: the Node.js runner for Flame.
# Stage 1 builds the TypeScript; stage 2 carries only production dependencies.
# The image serves as a sidecar (docker-compose.yml: `flmrun-js serve` on a
# socket in a shared volume, started by compose). For the executor-started form
# (deploy/flame/flmrun-js.yaml), an image that runs Flame's executor manager
# needs /usr/local/bin/flmrun-js: copy /opt/flmrun-js from this image and keep
# the link made below (see README.md, "Run it on Flame").
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY proto ./proto
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim
# The young generation at Node 20's size: Node 24's V8 doubles it, and a busy serve
# process keeps the committed pages (docs/node24-memory.md: RSS plateau 266 -> 187 MiB).
# No GLIBC_TUNABLES for the image: serve gives its session processes glibc.malloc.hugetlb=1 itself,
# and serve's own cold enter is slower with it; docker-compose.yml gives it to the object-cache
# service (README, Limits: "Large buffers").
ENV NODE_ENV=production \
    FLAME_INSTANCE_ENDPOINT=/run/flmrun/instance.sock \
    FLAME_LOG=info \
    NODE_OPTIONS=--max-semi-space-size=16
WORKDIR /opt/flmrun-js
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY proto ./proto
COPY examples ./examples
# The directories exist in the image owned by `node`, so that a named volume
# mounted on one of them (docker-compose.yml) starts out writable by it.
RUN ln -s /opt/flmrun-js/dist/cli.js /usr/local/bin/flmrun-js \
 && mkdir -p /run/flmrun /var/lib/flmrun/work /var/lib/flmrun/cache \
 && chown node:node /run/flmrun /var/lib/flmrun/work /var/lib/flmrun/cache
# `node` (uid 1000 in the official image), numeric so that runAsNonRoot can verify it.
USER 1000:1000
WORKDIR /var/lib/flmrun/work
# dist/cli.js is executable (npm run build sets its mode): the link runs it directly.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["flmrun-js", "health"]
ENTRYPOINT ["flmrun-js"]
CMD ["serve"]
