/**
 * Bearer-token authentication of the HTTP API, with two scopes:
 *
 * - `read`: `GET`/`HEAD` routes and the `/ws` stream;
 * - `trade`: everything that changes something (`POST /orders`, `DELETE /orders/{order_id}`,
 *   `PUT /kill-switch`, and any other non-GET route by default).
 *
 * Tokens come from the configuration: `http.token` has both scopes (full access), the optional
 * `http.read_token` has `read` only. With no token configured authentication is off (every request has
 * both scopes): the service then binds loopback by default and {@link bindWarning} says so loudly when it
 * does not.
 *
 * Public (no token): `/health`, `/metrics`, and the static shells of the live page (`/`, `/page/*`) and the
 * API docs (`/docs`, `/docs/*`, `/openapi.json`): they hold no account data; the page asks for the token
 * and sends it with every API call it makes.
 *
 * Tokens are compared in constant time (SHA-256 of both sides, then `timingSafeEqual`). A client presents
 * its token as `Authorization: Bearer <token>`; a browser WebSocket, which cannot set headers, offers the
 * subprotocols `["tbc.bearer", "tbc.token.<base64url(token)>"]` (see {@link wsTokenProtocols}); the server
 * selects `tbc.bearer`, so the token never appears in a URL or in a log line.
 *
 * Refusals are JSON: 401 `{"error":"unauthorized","message":…}` with `WWW-Authenticate: Bearer`, and 403
 * `{"error":"forbidden","message":…,"required_scope":"trade"}`.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";

/** A permission. */
export type Scope = "read" | "trade";

/** Who made a request, as far as the API cares. */
export interface Principal {
  /** `token` (full), `read_token`, or `anonymous` (authentication off, or a public route). */
  name: "token" | "read_token" | "anonymous";
  scopes: readonly Scope[];
}

/** The tokens of {@link authMiddleware} (the `http` config section's keys). */
export interface AuthTokens {
  /** Full access; "" = authentication off. */
  token: string;
  /** Read-only; "" = none. */
  read_token?: string;
}

/** The WebSocket subprotocol the server selects when the token came as a subprotocol. */
export const WS_AUTH_PROTOCOL = "tbc.bearer";
/** Prefix of the subprotocol carrying the token (base64url, no padding). */
export const WS_TOKEN_PROTOCOL_PREFIX = "tbc.token.";

/** Paths answered without a token (exact), and path prefixes (`/docs/` …). */
export const PUBLIC_PATHS: readonly string[] = ["/health", "/metrics", "/", "/docs", "/openapi.json"];
/** Path prefixes answered without a token. */
export const PUBLIC_PREFIXES: readonly string[] = ["/docs/", "/page/"];

const principals = new WeakMap<Context, Principal>();

/** The scope a request needs, or null for a public route. */
export function requiredScope(method: string, path: string): Scope | null {
  if (PUBLIC_PATHS.includes(path) || PUBLIC_PREFIXES.some((p) => path.startsWith(p))) {
    // Only reading is public: a POST to "/" still needs trade.
    if (method === "GET" || method === "HEAD") return null;
  }
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return "read";
  return "trade";
}

/** Constant-time string equality (lengths are hidden too: both sides are hashed first). */
export function tokensEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a, "utf8").digest();
  const hb = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(ha, hb);
}

/** Base64url (no padding) of a UTF-8 string. */
export function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64url(text: string): string | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const bin = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
}

/** The subprotocols a WebSocket client offers to authenticate with `token`. */
export function wsTokenProtocols(token: string): string[] {
  return [WS_AUTH_PROTOCOL, `${WS_TOKEN_PROTOCOL_PREFIX}${base64url(token)}`];
}

/**
 * The subprotocol the server answers a WebSocket upgrade with, from the client's
 * `Sec-WebSocket-Protocol`: {@link WS_AUTH_PROTOCOL} when offered, else none. Never another offered one,
 * whatever its position: a `tbc.token.…` one carries the token, and echoing it would put the token in the
 * response headers.
 */
export function selectWsProtocol(offered: string | null | undefined): string | undefined {
  if (!offered) return undefined;
  return offered.split(",").some((p) => p.trim() === WS_AUTH_PROTOCOL) ? WS_AUTH_PROTOCOL : undefined;
}

/**
 * The token presented by a request: `Authorization: Bearer …`, else (WebSocket) a `tbc.token.…`
 * subprotocol. null when none.
 */
export function presentedToken(headers: Headers): string | null {
  const auth = headers.get("authorization");
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : null;
  }
  const protocols = headers.get("sec-websocket-protocol");
  if (protocols) {
    for (const p of protocols.split(",")) {
      const v = p.trim();
      if (v.startsWith(WS_TOKEN_PROTOCOL_PREFIX)) {
        return fromBase64url(v.slice(WS_TOKEN_PROTOCOL_PREFIX.length));
      }
    }
  }
  return null;
}

/** Who `token` is, or null when it matches no configured token. Every candidate is compared. */
export function identify(tokens: AuthTokens, token: string): Principal | null {
  const full = tokens.token !== "" && tokensEqual(token, tokens.token);
  const read = (tokens.read_token ?? "") !== "" && tokensEqual(token, tokens.read_token ?? "");
  if (full) return { name: "token", scopes: ["read", "trade"] };
  if (read) return { name: "read_token", scopes: ["read"] };
  return null;
}

/** Whether authentication is on (a full-access token is configured). */
export function authEnabled(tokens: AuthTokens): boolean {
  return tokens.token !== "";
}

/** The principal the auth middleware attached to `c` (anonymous when none). */
export function principalOf(c: Context): Principal {
  return principals.get(c) ?? { name: "anonymous", scopes: [] };
}

/**
 * The middleware: public routes pass; with authentication off every request passes with both scopes;
 * otherwise 401 without a valid token, 403 when its scopes lack the one needed.
 */
export function authMiddleware(tokens: AuthTokens): MiddlewareHandler {
  const enabled = authEnabled(tokens);
  return async (c, next) => {
    const needed = requiredScope(c.req.method, c.req.path);
    if (!enabled) {
      principals.set(c, { name: "anonymous", scopes: ["read", "trade"] });
      return await next();
    }
    const presented = presentedToken(c.req.raw.headers);
    const who = presented === null ? null : identify(tokens, presented);
    if (who) principals.set(c, who);
    if (needed === null) return await next();
    if (!who) {
      c.header("WWW-Authenticate", 'Bearer realm="tqsdk-broker-connect"');
      return c.json({
        error: "unauthorized",
        message: presented === null
          ? "a bearer token is required (Authorization: Bearer <token>)"
          : "the bearer token is not valid",
      }, 401);
    }
    if (!who.scopes.includes(needed)) {
      return c.json({
        error: "forbidden",
        message: `this token lacks the ${needed} scope needed for ${c.req.method} ${c.req.path}`,
        required_scope: needed,
      }, 403);
    }
    await next();
  };
}

/** Whether `host` is a loopback address (`127.x`, `::1`, `localhost`). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** The start-up warning for a non-loopback bind without a token, or null when there is none to give. */
export function bindWarning(host: string, tokens: AuthTokens): string | null {
  if (isLoopback(host) || authEnabled(tokens)) return null;
  return `http is bound to ${host} without a token: anyone who can reach it can trade. ` +
    "Set http.token (BROKER_CONNECT_TOKEN) or bind 127.0.0.1.";
}
