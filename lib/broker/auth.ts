/**
 * shinnytech account authentication (Keycloak, OpenID Connect password grant), as tqsdk-python's `TqAuth`
 * does it (`shared/design/diff-protocol.md` §8): `POST {auth_url}/auth/realms/shinnytech/protocol/openid-connect/token`
 * form-encoded `grant_type=password, username, password, client_id[, client_secret]` → `access_token`.
 *
 * The access token is a JWT. We decode its payload (base64url JSON) for `sub` (the auth id: the sandbox's
 * user name and password) and `exp`. **The signature is not checked**: the token comes straight from the
 * auth server over HTTPS and is only handed back to shinnytech's servers, which verify it themselves.
 *
 * Errors never contain the password: they name the status and an excerpt of the reply body.
 *
 * @module
 */

/** Path of the token endpoint under `auth_url`. */
export const TOKEN_PATH = "/auth/realms/shinnytech/protocol/openid-connect/token";

/** Options of {@linkcode authenticate}. */
export interface AuthOptions {
  /** Base URL, e.g. `https://auth.shinnytech.com`. */
  authUrl: string;
  clientId: string;
  /** Sent only when non-empty. */
  clientSecret?: string;
  username: string;
  password: string;
  /** Default 10 000 ms. */
  timeoutMs?: number;
  /** Aborts the request (e.g. when the broker stops). */
  signal?: AbortSignal;
  /** Injectable fetch (tests); default the global one. */
  fetch?: typeof fetch;
}

/** A usable access token. */
export interface AuthToken {
  accessToken: string;
  /** The JWT `sub` claim (auth id). */
  sub: string;
  /** `exp` in epoch ms; null when the token carries none. */
  expiresAtMs: number | null;
  /** The decoded JWT payload (not verified). */
  claims: Record<string, unknown>;
}

/** Authentication failed: bad credentials, a server error, a timeout or a malformed reply. */
export class AuthError extends Error {
  /** HTTP status, or null for network errors / malformed replies. */
  readonly status: number | null;
  /** Build the error. */
  constructor(message: string, status: number | null) {
    super(message);
    this.name = "AuthError";
    this.status = status;
  }
}

function base64UrlDecode(s: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new AuthError("access token is not a JWT (bad base64url)", null);
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

/** Decode the payload of a JWT (no signature check). Throws AuthError when it is not a JWT with a JSON object. */
export function decodeJwtPayload(token: string): Record<string, unknown> {
  const parts = token.split(".");
  if (parts.length !== 3) throw new AuthError("access token is not a JWT (expected 3 parts)", null);
  let payload: unknown;
  try {
    payload = JSON.parse(base64UrlDecode(parts[1]));
  } catch (e) {
    if (e instanceof AuthError) throw e;
    throw new AuthError("access token payload is not JSON", null);
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new AuthError("access token payload is not a JSON object", null);
  }
  return payload as Record<string, unknown>;
}

/** Turn an access token into an {@linkcode AuthToken} (needs a non-empty string `sub`). */
export function parseAccessToken(accessToken: string): AuthToken {
  const claims = decodeJwtPayload(accessToken);
  const sub = claims.sub;
  if (typeof sub !== "string" || sub === "") throw new AuthError("access token has no sub claim", null);
  const exp = claims.exp;
  const expiresAtMs = typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : null;
  return { accessToken, sub, expiresAtMs, claims };
}

/** True when the token expires within `marginMs` (default 60 s) of `nowMs`; tokens without `exp` never do. */
export function tokenNeedsRefresh(token: AuthToken, nowMs: number, marginMs = 60_000): boolean {
  return token.expiresAtMs !== null && token.expiresAtMs - nowMs <= marginMs;
}

function excerpt(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** Log in to the auth server; resolves with the token or rejects with an {@linkcode AuthError}. */
export async function authenticate(options: AuthOptions): Promise<AuthToken> {
  const url = options.authUrl.replace(/\/+$/, "") + TOKEN_PATH;
  const form = new URLSearchParams({
    grant_type: "password",
    username: options.username,
    password: options.password,
    client_id: options.clientId,
  });
  if (options.clientSecret) form.set("client_secret", options.clientSecret);
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const doFetch = options.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: form.toString(),
      signal,
    });
  } catch (e) {
    const why = timeout.aborted ? `timed out after ${options.timeoutMs ?? 10_000} ms` : (e as Error).message;
    throw new AuthError(`auth failed (${url}: ${why})`, null);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    throw new AuthError(
      `auth failed (${res.status}, reading the reply: ${(e as Error).message})`,
      res.status,
    );
  }
  if (!res.ok) throw new AuthError(`auth failed (${res.status}, ${excerpt(text)})`, res.status);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AuthError(`auth failed (${res.status}, reply is not JSON: ${excerpt(text)})`, res.status);
  }
  const accessToken = (body as Record<string, unknown> | null)?.access_token;
  if (typeof accessToken !== "string" || accessToken === "") {
    throw new AuthError(`auth failed (${res.status}, reply has no access_token)`, res.status);
  }
  return parseAccessToken(accessToken);
}

/** Build an unsigned-looking JWT (`alg: none`-style header, fake signature) for tests and test doubles. */
export function makeTestJwt(claims: Record<string, unknown>): string {
  const enc = (o: unknown) =>
    btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o))))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${enc({ alg: "RS256", typ: "JWT" })}.${enc(claims)}.c2lnbmF0dXJl`;
}
