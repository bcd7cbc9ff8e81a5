/**
 * The HTTP listener: a Hono app served by `Deno.serve`, plus the app shell every route set mounts on
 * (JSON bodies for unknown routes and for errors).
 *
 * Shutdown order: close the WebSocket subscribers first (`StreamHub.close()`), then {@link HttpServer.close};
 * `Deno.serve`'s graceful shutdown waits for open connections.
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { getLogger } from "../log.ts";

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  /** Interface to bind (`127.0.0.1` unless the operator says otherwise). */
  host: string;
  /** 0 = any free port. */
  port: number;
  /** Aborting it shuts the server down. */
  signal?: AbortSignal;
  /** Give up waiting for open connections after this long (default 5000 ms). */
  shutdownTimeoutMs?: number;
}

/** A running server. */
export interface HttpServer {
  /** The bound port (the real one when 0 was asked). */
  port: number;
  host: string;
  /** `http://host:port`. */
  url: string;
  /** Graceful shutdown (idempotent); resolves when the server stopped or the timeout passed. */
  close(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

const log = getLogger("http");

/** Serve `app`; resolves once listening (rejects when the address cannot be bound). */
export function startHttpServer(app: Hono, options: HttpServerOptions): Promise<HttpServer> {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    // Deno.serve binds synchronously; onListen is given only to silence its default "Listening on" line
    server = Deno.serve({
      hostname: options.host,
      port: options.port,
      signal: controller.signal,
      onListen: () => {},
    }, app.fetch);
  } catch (err) {
    return Promise.reject(err);
  }
  if (options.signal?.aborted) controller.abort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  const host = server.addr.hostname;
  const port = server.addr.port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info("http listening on {url}", { url });
  const finished = server.finished.finally(() => options.signal?.removeEventListener("abort", onAbort));
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      controller.abort();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        finished,
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            log.warn("http shutdown timed out with connections still open");
            resolve();
          }, options.shutdownTimeoutMs ?? 5000);
        }),
      ]);
      clearTimeout(timer);
    })();
    return closing;
  };
  return Promise.resolve({ port, host, url, finished, close });
}

/** An app whose unknown routes answer 404 `{"error":"not found"}` and whose errors answer JSON. */
export function createApiApp(): Hono {
  const app = new Hono();
  app.notFound((c) => c.json({ error: "not found", path: c.req.path }, 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      return c.json({ error: err.message || "error" }, err.status);
    }
    log.error("unhandled error on {method} {path}: {error}", {
      method: c.req.method,
      path: c.req.path,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
