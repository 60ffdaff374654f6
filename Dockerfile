# Berth's image: `docker build -t berth .` then `docker run -p 5000:5000 -e BERTH_ADMIN_PASSWORD=… berth`.
# The base is a build argument so a site can point it at its own mirror (or a locally imported image).
ARG BASE_IMAGE=node:20-bookworm-slim

# The sources, gathered on an empty base: the build stage then takes them in one layer (cheap on any storage
# driver), and a change to them never invalidates the dependency layer.
FROM scratch AS sources
COPY tsconfig.json /src/
COPY core /src/core
COPY storage-adapters /src/storage-adapters
COPY registry /src/registry
COPY server /src/server
COPY replicator /src/replicator
COPY p2p-agent /src/p2p-agent
COPY cli /src/cli
COPY console /src/console
# The sendfile addon: built where the build stage has a C compiler, else blob GETs copy through userspace.
COPY native /src/native
COPY scripts/build-native.mjs /src/scripts/

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Air-gapped builds: a node_modules.tar (`npm ci` output from a machine with the same Debian and Node major)
# in deploy/offline/ is used instead of the npm registry.
COPY deploy/offline/ /tmp/offline/
RUN if [ -f /tmp/offline/node_modules.tar ]; then tar -xf /tmp/offline/node_modules.tar && rm -rf /tmp/offline; \
    else npm ci --no-audit --no-fund; fi
COPY --from=sources /src/ ./
# The server, then the web console (Vite, into dist/console) that `berth serve` answers at `/`.
RUN npm run -s build && rm -f dist/.tsbuildinfo && find dist -name '*.map' -delete

FROM build AS production-modules
RUN npm prune --omit=dev --no-audit --no-fund

FROM ${BASE_IMAGE} AS runtime
ENV NODE_ENV=production BERTH_ADDR=0.0.0.0:5000 BERTH_DATA_DIR=/var/lib/berth
WORKDIR /app
# A user of its own: the registry needs no privilege (port 5000, data under /var/lib/berth).
RUN groupadd --system --gid 10001 berth && useradd --system --uid 10001 --gid berth --home-dir /var/lib/berth berth \
 && mkdir -p /var/lib/berth && chown berth:berth /var/lib/berth
COPY --from=build /src/package.json ./
COPY --from=production-modules /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
RUN chmod +x dist/cli/main.js && ln -s /app/dist/cli/main.js /usr/local/bin/berth
COPY deploy/setup-replication.sh /usr/local/bin/berth-setup-replication
USER berth
VOLUME /var/lib/berth
EXPOSE 5000
# Liveness as Berth defines it (/healthz: the stores answer); node, as the slim base has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const a=(process.env.BERTH_ADDR||'0.0.0.0:5000').split(':').pop();fetch('http://127.0.0.1:'+a+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["berth"]
CMD ["serve"]
