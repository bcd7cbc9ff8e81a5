/**
 * The middleware every API request goes through, in this order:
 *
 * 1. request id: the client's `X-Request-ID` (1–128 printable ASCII characters) or a new UUID; echoed in
 *    the response's `X-Request-ID` and in the access log;
 * 2. access log: one line per request after it is answered (method, path without the query string,
 *    status, duration, request id, who); never a header, a query string or a body, so no token ends up in
 *    a log. `/health` and `/metrics` are logged at debug level (they are polled);
 * 3. CORS, only when `http.cors_origins` is not empty (no CORS header is ever sent otherwise);
 * 4. authentication and scopes (`auth.ts`);
 * 5. body size limit: a body over `http.max_body_bytes` is refused with 413 JSON before it is read whole;
 *    routes that check the body again (`POST /orders` parses it with a byte limit) read the limit with
 *    {@link maxBodyBytesOf}, so one setting governs every route.
 *
 * Unknown routes and errors already answer JSON (`createApiApp` in `server.ts`).
 *
 * @module
 */
import type { Context, Hono, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { getLogger } from "../log.ts";
import { authMiddleware, type AuthTokens, principalOf } from "./auth.ts";

/** Accepted incoming `X-Request-ID` values. */
export const REQUEST_ID_PATTERN: RegExp = /^[\x21-\x7E]{1,128}$/;

/** One answered request (for metrics). */
export interface RequestInfo {
  method: string;
  /** The matched route pattern (`/orders/:order_id`), or the path when none matched. */
  route: string;
  status: number;
  durationMs: number;
  requestId: string;
}

/** Options of {@link applyHttpMiddleware}. */
export interface HttpMiddlewareOptions {
  tokens: AuthTokens;
  /** Allowed CORS origins; empty = CORS off. */
  corsOrigins: readonly string[];
  maxBodyBytes: number;
  /** Called after each request is answered. */
  onRequest?: (info: RequestInfo) => void;
}

const requestIds = new WeakMap<Context, string>();
const bodyLimits = new WeakMap<Context, number>();
const log = getLogger("http.access");
const QUIET_PATHS = new Set(["/health", "/metrics"]);

/** The request id of `c` (set by the request-id middleware; "" outside it). */
export function requestIdOf(c: Context): string {
  return requestIds.get(c) ?? "";
}

/** The request-id middleware alone. */
export function requestIdMiddleware(): MiddlewareHandler {
  return async (c, next) => {
    const given = c.req.header("x-request-id");
    const id = given !== undefined && REQUEST_ID_PATTERN.test(given) ? given : crypto.randomUUID();
    requestIds.set(c, id);
    c.header("X-Request-ID", id);
    await next();
    // a handler that built its own Response (e.g. the WebSocket upgrade) still carries the id when possible
    if (c.res.headers.get("X-Request-ID") === null) {
      try {
        c.res.headers.set("X-Request-ID", id);
      } catch {
        // immutable headers (WebSocket upgrade response): nothing to do
      }
    }
  };
}

/** The access-log middleware alone. */
export function accessLogMiddleware(onRequest?: (info: RequestInfo) => void): MiddlewareHandler {
  return async (c, next) => {
    const start = performance.now();
    try {
      await next();
    } finally {
      const durationMs = performance.now() - start;
      const status = c.res?.status ?? 500;
      const props = {
        method: c.req.method,
        path: c.req.path,
        status,
        ms: Math.round(durationMs * 10) / 10,
        request_id: requestIdOf(c),
        principal: principalOf(c).name,
      };
      const message = "{method} {path} {status} {ms} ms request_id={request_id} by={principal}";
      if (QUIET_PATHS.has(c.req.path) && status < 400) log.debug(message, props);
      else log.info(message, props);
      onRequest?.({
        method: c.req.method,
        route: c.req.routePath && c.req.routePath !== "/*" ? c.req.routePath : "unmatched",
        status,
        durationMs,
        requestId: props.request_id,
      });
    }
  };
}

/** The body limit the body-limit middleware applied to `c` (undefined outside it). */
export function maxBodyBytesOf(c: Context): number | undefined {
  return bodyLimits.get(c);
}

/** The body-limit middleware alone: 413 `{"error": …}` above `maxBytes`. */
export function bodyLimitMiddleware(maxBytes: number): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: (c) => c.json({ error: `$: body exceeds ${maxBytes} bytes` }, 413),
  });
  return (c, next) => {
    bodyLimits.set(c, maxBytes);
    return limit(c, next);
  };
}

/** CORS for `origins` (`*` allowed), or null when the list is empty. */
export function corsMiddleware(origins: readonly string[]): MiddlewareHandler | null {
  if (origins.length === 0) return null;
  return cors({
    origin: origins.includes("*") ? "*" : [...origins],
    allowMethods: ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "X-Request-ID"],
    exposeHeaders: ["X-Request-ID"],
    maxAge: 600,
  });
}

/** Install the whole chain on `app` (before any route is added). */
export function applyHttpMiddleware(app: Hono, options: HttpMiddlewareOptions): void {
  app.use(requestIdMiddleware());
  app.use(accessLogMiddleware(options.onRequest));
  const corsMw = corsMiddleware(options.corsOrigins);
  if (corsMw) app.use(corsMw);
  app.use(authMiddleware(options.tokens));
  app.use(bodyLimitMiddleware(options.maxBodyBytes));
}
