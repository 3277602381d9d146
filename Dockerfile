# warren's image: the packed package installed into a clean /app, run as a non-root user.
# Configuration comes only from the environment (WARREN_*, OPENAI_*; README: Configuration) and a
# topology.yaml mounted at /app/topology.yaml with its handlers in /app/consumers/ (.js, or .ts:
# tsx is installed for them). The command picks the role: `start all` (default), `start api`,
# `start worker`; the fake LLM is `--entrypoint node ... node_modules/warren/bin/fake-llm.js`.
#   docker build -t warren .
#   docker run -v $PWD/topology.yaml:/app/topology.yaml:ro -v $PWD/consumers:/app/consumers:ro \
#     -e WARREN_AMQP_URL=... -e WARREN_MANAGEMENT_URL=... -e WARREN_API_KEYS=... -p 8080:8080 warren

# 1. Build dist/ and pack the package exactly as `npm pack` does for users.
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.sh scripts/build.sh
COPY bin bin
COPY src src
COPY fake-llm fake-llm
RUN npm pack --pack-destination /tmp/pack && mv /tmp/pack/warren-*.tgz /tmp/warren.tgz

# 2. Install the tarball into a clean folder: production dependencies only, plus tsx for .ts handlers.
FROM node:20-slim AS install
WORKDIR /app
COPY --from=build /tmp/warren.tgz /tmp/warren.tgz
RUN echo '{"name":"warren-app","private":true,"type":"module"}' > package.json \
  && npm install --omit=dev --no-audit --no-fund /tmp/warren.tgz tsx@^4 \
  && npm cache clean --force

# 3. Runtime: no compiler, no npm cache, no root.
FROM node:20-slim
ENV NODE_ENV=production \
    WARREN_TOPOLOGY=/app/topology.yaml \
    WARREN_API_HOST=0.0.0.0 \
    WARREN_API_PORT=8080 \
    WARREN_METRICS_HOST=0.0.0.0 \
    WARREN_METRICS_PORT=9464 \
    WARREN_LOG_FORMAT=json
WORKDIR /app
COPY --from=install /app /app
USER node
EXPOSE 8080 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "node_modules/warren/bin/healthcheck.js"]
# Exec form: node gets SIGTERM itself and stops within --shutdown-deadline (30s by default); give the
# container a longer stop timeout than that (compose: stop_grace_period, Kubernetes:
# terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "node_modules/warren/bin/warren.js"]
CMD ["start", "all"]
