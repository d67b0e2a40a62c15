# Handoff's Docker lab image. One image serves three roles, chosen by the command (see
# docker-compose.yml and docs/docker-lab.md):
#   proxy    node dist/proxy/cli.js -c config/docker.json          (the default CMD: master + workers)
#   worker   node dist/proxy/cli.js worker --handoff-dir /run/handoff
#   backend  node dist/backend/server.js --host 0.0.0.0 --port 3000
# The `loadtest` target is that image plus autocannon and dist/loadtest (kept out of the proxy image).
# The `debug` target is the bare base plus ps, ss and strace, for the compose `debug` service.
#
#   docker build -t handoff-lab .                                      # official Node LTS base
#   docker build --build-arg NODE_IMAGE=localbase/node:20-bookworm-slim -t handoff-lab .
#
# No `# syntax=` line on purpose: BuildKit would try to pull the frontend image. The file works
# with the classic builder and with BuildKit (which builds the independent stages in parallel).
# Stages are cut so that an edit of the TypeScript only re-runs tsc, and an edit of the C addon
# only re-runs node-gyp: neither re-downloads the dependencies.

# Any Debian-based Node >= 20 image that follows the official image's layout and `node` user.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- toolchain: what node-gyp needs -----------------------------------------------------------
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# node-gyp needs Node's headers. Official images ship them under /usr/local/include/node, so no
# download is needed. An image without them (such as a local base image built on a machine that
# cannot reach nodejs.org) gets Debian's libnode-dev instead: the addon uses only N-API
# (NAPI_VERSION 8) and libuv 1.x, both ABI-stable, so the headers need not match the Node version.
RUN set -eu; \
    prefix="$(dirname "$(dirname "$(command -v node)")")"; \
    if [ -f "$prefix/include/node/common.gypi" ]; then \
      echo "node-gyp: using the headers shipped with Node in $prefix/include/node"; \
      nodedir="$prefix"; \
    else \
      echo "node-gyp: this Node ships no headers; using Debian's libnode-dev for the N-API addon"; \
      apt-get update; \
      apt-get install -y --no-install-recommends libnode-dev; \
      rm -rf /var/lib/apt/lists/*; \
      nodedir=/usr; \
    fi; \
    echo "$nodedir" > /etc/node-gyp-nodedir

# ---- deps: every dependency, dev ones included (no install scripts: nothing here needs one) ----
FROM toolchain AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# ---- addon: the native addon, as `npm install` builds it (the package's install script) -------
FROM deps AS addon
COPY binding.gyp ./
COPY proxy/handoff/native/ proxy/handoff/native/
RUN npm_config_nodedir="$(cat /etc/node-gyp-nodedir)" npm run install && test -f build/Release/handoff.node

# ---- prod-deps: production node_modules (ws), and autocannon's closure for the loadtest image --
FROM deps AS prod-deps
RUN set -eu; \
    npm query '#autocannon, #autocannon *' \
      | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{for(const l of new Set(JSON.parse(s).map((p)=>p.location)))console.log(l)})' \
      > /tmp/loadtest-deps.txt; \
    mkdir -p /out/loadtest; \
    xargs -a /tmp/loadtest-deps.txt cp -a --parents -t /out/loadtest; \
    npm prune --omit=dev --ignore-scripts --no-audit --no-fund; \
    find node_modules -mindepth 1 -type d -empty -delete; \
    mkdir -p /out/runtime; \
    cp -a node_modules /out/runtime/

# ---- build: TypeScript ------------------------------------------------------------------------
FROM deps AS build
COPY tsconfig.json ./
COPY proxy/ proxy/
COPY backend/ backend/
COPY loadtest/ loadtest/
RUN npx tsc -p tsconfig.json

# ---- runtime: proxy, worker and backend ------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Everything is owned by root and read-only to the `node` user that runs it.
COPY package.json ./
COPY --from=prod-deps /out/runtime/node_modules/ node_modules/
COPY --from=addon /src/build/Release/handoff.node build/Release/handoff.node
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
COPY --from=prod-deps /out/loadtest/node_modules/ node_modules/
COPY --from=build /src/dist/loadtest/ dist/loadtest/
USER root
RUN mkdir -p /reports && chown node:node /reports
USER node
CMD ["node", "dist/loadtest/run.js", "--proxy", "http://proxy:8080", "--direct", "http://backend:3000", "--out", "/reports"]

# ---- debug: tools to look inside the proxy container (compose service `debug`) ----------------
# The same base (no other image to pull), plus procps (ps), iproute2 (ss) and strace. No app: it
# runs in the proxy container's pid and network namespaces and looks at the processes there.
FROM ${NODE_IMAGE} AS debug
RUN apt-get update \
 && apt-get install -y --no-install-recommends procps iproute2 strace \
 && rm -rf /var/lib/apt/lists/*
CMD ["ps", "-ef"]
