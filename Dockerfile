# tqsdk-broker-connect: one self-contained binary (deno compile) on a slim Debian.
#
#   docker build -t tqsdk-broker-connect .
#   docker run --rm -p 127.0.0.1:8080:8080 -v ./my-config.yaml:/app/config.yaml:ro tqsdk-broker-connect
#
# The image's /app/config.yaml is the repository's default (sim exchange, embedded database, HTTP on
# loopback): mount your own for anything real, with `http.host: 0.0.0.0` so the port mapping reaches it
# (docker-compose.yml does that). The health check uses curl, installed in the final stage for that
# purpose: the binary has no HTTP client subcommand.

# ---- build --------------------------------------------------------------------------------------------
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
# Dependencies first, so this layer is reused while only the source changes. --frozen: deno.lock must be
# up to date (it is committed with every dependency change).
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY . .
# `deno task compile` = deno compile --allow-all --include lib -o dist/tqsdk-broker-connect main.ts
RUN deno task compile && ./dist/tqsdk-broker-connect version

# ---- run ----------------------------------------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin tbc \
    && mkdir -p /app/data /app/logs \
    && chown -R tbc:tbc /app
COPY --from=build /src/dist/tqsdk-broker-connect /usr/local/bin/tqsdk-broker-connect
COPY --chown=tbc:tbc config.yaml /app/config.yaml
WORKDIR /app
USER tbc
ENV NO_COLOR=1 \
    TZ=Asia/Shanghai \
    HEALTH_URL=http://127.0.0.1:8080/health
EXPOSE 8080
# /health answers 200 when the service can trade, 503 when it cannot (contract §5).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD curl -fsS -o /dev/null "$HEALTH_URL" || exit 1
# SIGTERM (docker stop) gives a clean shutdown, bounded by the service's 25 s stop budget; allow it time with
# `docker stop -t 30` / stop_grace_period (30 s in docker-compose.yml).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/tqsdk-broker-connect"]
CMD ["serve"]
