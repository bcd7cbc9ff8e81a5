/**
 * The health report behind `GET /health` (contract §5).
 *
 * ```json
 * {"status":"ok"|"degraded","can_trade":true,
 *  "components":{"tq":{…},"redis":{…}|{"enabled":false},"database":…,"rabbitmq":…}}
 * ```
 * - HTTP 503 when the service cannot trade: the broker is not ready, or a component that trading needs
 *   (`blocks_trading: true`, e.g. the database where intents are recorded) is not ok.
 * - `status` is `ok` when the broker is ready and every enabled component is ok, `degraded` otherwise
 *   (Redis down: 200 degraded: orders still flow, positions in Redis are stale).
 * - Every component but `tq` comes from a function passed in, so sinks plug in later; one that is not
 *   given reports `{"enabled": false}`; one that throws reports `{"ok": false, "error": …}`.
 *
 * @module
 */
import type { BrokerState } from "../broker/types.ts";

/** What a component reports: disabled, or its own fields with an `ok` verdict. */
export type ComponentHealth =
  | { enabled: false }
  | ({ ok: boolean; blocks_trading?: boolean } & Record<string, unknown>);

/** Produces a component's report (called on every /health request). */
export type HealthComponentFn = () => ComponentHealth | Promise<ComponentHealth>;

/** The broker part of the report. */
export interface TqHealth {
  ok: boolean;
  state: BrokerState["phase"];
  since: string | null;
  last_data_at: string | null;
  trading_day: string;
  ready: boolean;
  reconnects: number;
  attempts: number;
  alarm: boolean;
  last_error: { code: number | null; message: string; at: string | null } | null;
}

/** The whole report. */
export interface HealthReport {
  status: "ok" | "degraded";
  can_trade: boolean;
  components: Record<string, unknown>;
}

/** Components always listed (`{"enabled": false}` when not provided). */
export const STANDARD_COMPONENTS = ["redis", "database", "rabbitmq"] as const;

/** The `tq` component from the broker state. */
export function tqHealth(state: BrokerState): TqHealth {
  return {
    ok: state.ready,
    state: state.phase,
    since: isoOrNull(state.since),
    last_data_at: isoOrNull(state.last_data_at),
    trading_day: state.trading_day,
    ready: state.ready,
    reconnects: state.reconnects,
    attempts: state.attempts,
    alarm: state.alarm,
    last_error: state.last_error
      ? { code: state.last_error.code, message: state.last_error.message, at: isoOrNull(state.last_error.at) }
      : null,
  };
}

/** Build the report and its HTTP status. */
export async function buildHealth(
  state: BrokerState,
  components: Record<string, HealthComponentFn> = {},
): Promise<{ httpStatus: 200 | 503; report: HealthReport }> {
  const tq = tqHealth(state);
  const out: Record<string, unknown> = { tq };
  let allOk = tq.ok;
  let canTrade = tq.ready;
  const names = [...new Set([...STANDARD_COMPONENTS, ...Object.keys(components)])].filter((n) => n !== "tq");
  const reports = await Promise.all(names.map(async (name): Promise<ComponentHealth> => {
    const fn = components[name];
    if (!fn) return { enabled: false };
    try {
      return await fn();
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }));
  names.forEach((name, i) => {
    const r = reports[i];
    out[name] = r;
    if ("ok" in r) {
      if (!r.ok) {
        allOk = false;
        if (r.blocks_trading) canTrade = false;
      }
    }
  });
  return {
    httpStatus: canTrade ? 200 : 503,
    report: { status: allOk && canTrade ? "ok" : "degraded", can_trade: canTrade, components: out },
  };
}

function isoOrNull(ms: number): string | null {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : null;
}
