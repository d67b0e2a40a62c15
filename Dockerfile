# Handoff's Docker lab image. One image serves three roles, chosen by the command (see
# docker-compose.yml and docs/docker-lab.md):
#   proxy    node dist/proxy/cli.js -c config/docker.json          (the default CMD: master + workers)
#   worker   node dist/proxy/cli.js worker --handoff-dir /run/handoff
#   backend  node dist/backend/server.js --host 0.0.0.0 --port 3000
# The `loadtest` target is that image plus autocannon and dist/loadtest (kept out of the proxy image).
#
#   docker build -t handoff-lab .                                      # official Node LTS base
#   docker build --build-arg NODE_IMAGE=localbase/node:20-bookworm-slim -t handoff-lab .
#
# No `# syntax=` line on purpose: BuildKit would try to pull the frontend image. The file works
# with the classic builder and with BuildKit.

# Any Debian-based Node >= 20 image that follows the official image's layout and `node` user.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: dev dependencies, the native addon (node-gyp), TypeScript -------------------------
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# node-gyp needs Node's headers. Official images ship them under /usr/local/include/node, so no
# download is needed. An image without them (such as a local base image built on a machine that
# cannot reach nodejs.org) gets Debian's libnode-dev instead: the addon uses only N-API
# (NAPI_VERSION 8) and libuv 1.x, both ABI-stable, so the headers need not match the Node version.
COPY package.json package-lock.json binding.gyp ./
COPY proxy/handoff/native/ proxy/handoff/native/
RUN set -eu; \
    prefix="$(dirname "$(dirname "$(command -v node)")")"; \
    if [ -f "$prefix/include/node/common.gypi" ]; then \
      echo "node-gyp: using the headers shipped with Node in $prefix/include/node"; \
      export npm_config_nodedir="$prefix"; \
    else \
      echo "node-gyp: this Node ships no headers; building the N-API addon against Debian's libnode-dev"; \
      apt-get update; \
      apt-get install -y --no-install-recommends libnode-dev; \
      rm -rf /var/lib/apt/lists/*; \
      export npm_config_nodedir=/usr; \
    fi; \
    npm ci --no-audit --no-fund; \
    test -f build/Release/handoff.node

COPY tsconfig.json ./
COPY proxy/ proxy/
COPY backend/ backend/
COPY loadtest/ loadtest/
RUN npx tsc -p tsconfig.json

# What runs: production dependencies only (ws). The load generator's dependency closure
# (autocannon and everything it requires) is set aside first, for the loadtest target.
RUN set -eu; \
    npm query '#autocannon, #autocannon *' \
      | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{for(const l of new Set(JSON.parse(s).map((p)=>p.location)))console.log(l)})' \
      > /tmp/loadtest-deps.txt; \
    mkdir -p /out/loadtest; \
    xargs -a /tmp/loadtest-deps.txt cp -a --parents -t /out/loadtest; \
    npm prune --omit=dev --no-audit --no-fund; \
    find node_modules -mindepth 1 -type d -empty -delete; \
    mkdir -p /out/runtime/build/Release; \
    cp -a package.json node_modules /out/runtime/; \
    cp build/Release/handoff.node /out/runtime/build/Release/

# ---- runtime: proxy, worker and backend ------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Everything is owned by root and read-only to the `node` user that runs it.
COPY --from=build /out/runtime/ ./
COPY --from=build /src/dist/proxy/ dist/proxy/
COPY --from=build /src/dist/backend/ dist/backend/
COPY config/ config/
# The handoff directory: a named volume mounted here starts empty and inherits this owner and
# mode, so the master (running as node) can create master.sock and config.json in it.
RUN mkdir -p /run/handoff && chown node:node /run/handoff && chmod 0700 /run/handoff
USER node
EXPOSE 8080 3000
CMD ["node", "dist/proxy/cli.js", "-c", "config/docker.json"]

# ---- loadtest: the runtime image plus autocannon and the scenarios ---------------------------
FROM runtime AS loadtest
COPY --from=build /out/loadtest/node_modules/ node_modules/
COPY --from=build /src/dist/loadtest/ dist/loadtest/
USER root
RUN mkdir -p /reports && chown node:node /reports
USER node
CMD ["node", "dist/loadtest/run.js", "--proxy", "http://proxy:8080", "--direct", "http://backend:3000", "--out", "/reports"]
