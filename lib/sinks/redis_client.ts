/**
 * The ioredis client of the service, configured to survive a Redis outage without piling work up:
 *
 * - `lazyConnect`: nothing happens until `connect()` (or the first command);
 * - `retryStrategy`: reconnect forever, with exponential backoff and jitter (100 ms doubling to 5 s);
 * - `enableOfflineQueue: false`: a command issued while not connected fails at once instead of waiting
 *   in memory for a reconnect;
 * - `maxRetriesPerRequest: 0`: commands in flight when the connection drops fail at once;
 * - `connectTimeout`: a dead host is noticed quickly.
 *
 * Callers re-send what failed themselves (the Redis writer rewrites its whole state on `ready`).
 *
 * @module
 */
import { Redis } from "ioredis";
import type { RedisConfig } from "../config.ts";

export type { Redis };

/** Options of {@link createRedisClient}. */
export interface RedisClientOptions {
  /** Connect timeout (default 5000 ms). */
  connectTimeoutMs?: number;
  /** First reconnect delay (default 100 ms). */
  retryBaseMs?: number;
  /** Longest reconnect delay (default 5000 ms). */
  retryMaxMs?: number;
  /** Client name shown by `CLIENT LIST` (default `tqsdk-broker-connect`). */
  connectionName?: string;
}

/**
 * Delay before reconnect attempt `attempt` (1-based): `base·2^(attempt−1)` capped at `max`, then
 * scaled by a random factor in [0.5, 1] so many clients do not reconnect in lockstep.
 */
export function reconnectDelay(
  attempt: number,
  options: { baseMs?: number; maxMs?: number; random?: () => number } = {},
): number {
  const base = options.baseMs ?? 100;
  const max = options.maxMs ?? 5000;
  const exp = Math.min(max, base * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  const jitter = 0.5 + 0.5 * (options.random ?? Math.random)();
  return Math.max(1, Math.round(exp * jitter));
}

/** A new, not yet connected client for `config` (see the module doc for the settings). */
export function createRedisClient(config: RedisConfig, options: RedisClientOptions = {}): Redis {
  return new Redis({
    host: config.host,
    port: config.port,
    password: config.password === "" ? undefined : config.password,
    db: config.db,
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    enableReadyCheck: true,
    connectionName: options.connectionName ?? "tqsdk-broker-connect",
    retryStrategy: (times: number) =>
      reconnectDelay(times, { baseMs: options.retryBaseMs, maxMs: options.retryMaxMs }),
  });
}

/**
 * Close `client`: `QUIT` (lets replies in flight arrive) bounded by `timeoutMs` (default 2000), then
 * `disconnect()` whatever happened, which also stops reconnecting. Never throws.
 */
export async function closeRedisClient(client: Redis, timeoutMs = 2000): Promise<void> {
  if (client.status === "ready") {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        client.quit(),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
    } catch {
      // fall through to disconnect
    } finally {
      clearTimeout(timer);
    }
  }
  if (client.status !== "end") client.disconnect(false);
  if (client.status !== "end") {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      client.once("end", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
