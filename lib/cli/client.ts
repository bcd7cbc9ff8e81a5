/**
 * A small REST client of a running service, for the ops subcommands (`orders`, `positions`, `submit`,
 * `cancel`, `kill-switch`): base URL and bearer token, JSON in and out.
 *
 * @module
 */
import type { HttpConfig } from "../config.ts";

/** Where the client talks to. */
export interface ClientTarget {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Bearer token; "" = none. */
  token: string;
}

/** One answer. */
export interface ClientAnswer {
  status: number;
  json: unknown;
}

/** The base URL of the service configured by `http` (a wildcard bind is reached on loopback). */
export function serviceUrl(http: Pick<HttpConfig, "host" | "port">): string {
  let host = http.host;
  if (host === "0.0.0.0" || host === "") host = "127.0.0.1";
  if (host === "::") host = "::1";
  return `http://${host.includes(":") ? `[${host}]` : host}:${http.port}`;
}

/**
 * The target from the flags, the environment (`BROKER_CONNECT_URL`, `BROKER_CONNECT_TOKEN`) and the
 * configuration, in that order.
 */
export function resolveTarget(
  flags: { url?: string; token?: string },
  options: { http: Pick<HttpConfig, "host" | "port" | "token">; env?: (name: string) => string | undefined },
): ClientTarget {
  const env = options.env ?? ((n: string) => Deno.env.get(n));
  const url = flags.url || env("BROKER_CONNECT_URL") || serviceUrl(options.http);
  const token = flags.token ?? (env("BROKER_CONNECT_TOKEN") || options.http.token || "");
  return { url: url.replace(/\/+$/, ""), token };
}

/** Call the API; throws only when the service cannot be reached. */
export async function callApi(
  target: ClientTarget,
  request: { method: string; path: string; body?: unknown },
): Promise<ClientAnswer> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  if (request.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${target.url}${request.path}`, {
    method: request.method,
    headers,
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? null : JSON.parse(text);
  } catch {
    json = { error: text };
  }
  return { status: res.status, json };
}
