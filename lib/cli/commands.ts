/**
 * The ops subcommands, run from a shell against a running service through its REST API:
 *
 * ```
 * orders [ORDER_ID] [--status S] [--symbol X] [--limit N]
 * positions
 * submit --symbol S --direction BUY|SELL --offset OPEN|CLOSE|CLOSETODAY --volume N [--price P]
 *        [--order-id ID] [--time-condition GFD|IOC] [--volume-condition ANY|ALL]
 * cancel ORDER_ID
 * kill-switch [OFF|HALT|REDUCE_ONLY|FLATTEN --reason TEXT [--symbol S]]
 * ```
 * Common options: `--url URL` (default: BROKER_CONNECT_URL, else the configuration's http host/port),
 * `--token TOKEN` (default: BROKER_CONNECT_TOKEN, else http.token), `--json` (print the API's JSON instead
 * of a short table), `--config PATH`.
 *
 * Exit codes: 0 when the API accepted the call (2xx), 1 when it refused it (the error on stderr) or could
 * not be reached, 2 on bad usage.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { callApi, type ClientAnswer, resolveTarget } from "./client.ts";
import type { Config } from "../config.ts";

/** The ops subcommands. */
export const CLIENT_COMMANDS = ["orders", "positions", "submit", "cancel", "kill-switch"] as const;

/** One of {@link CLIENT_COMMANDS}. */
export type ClientCommand = typeof CLIENT_COMMANDS[number];

/** Usage lines of the ops subcommands (part of `--help`). */
export const CLIENT_USAGE = `Ops subcommands (call the REST API of a running service):
  orders [ORDER_ID] [--status S] [--symbol X] [--limit N]   list orders, or one with its events
  positions                                                 live positions
  submit --symbol S --direction BUY|SELL --offset OPEN|CLOSE|CLOSETODAY --volume N [--price P]
         [--order-id ID] [--time-condition GFD|IOC] [--volume-condition ANY|ALL]
  cancel ORDER_ID                                           cancel an order
  kill-switch [OFF|HALT|REDUCE_ONLY|FLATTEN --reason TEXT [--symbol S]]   show or set
  Options: --url URL (default $BROKER_CONNECT_URL, else http.host:http.port), --token TOKEN (default
  $BROKER_CONNECT_TOKEN, else http.token), --json (raw JSON output), --config PATH`;

/** Where output goes (tests capture it). */
export interface ClientIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** A usage error (exit 2). */
export class UsageError extends Error {}

/** Run one ops subcommand; resolves with the exit code. `loadConfig` gives the configuration. */
export async function runClientCommand(
  command: ClientCommand,
  args: string[],
  options: {
    loadConfig: (path: string | undefined) => Promise<Config>;
    io?: ClientIo;
    env?: (n: string) => string | undefined;
  },
): Promise<number> {
  const io = options.io ?? { out: (l) => console.log(l), err: (l) => console.error(l) };
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        url: { type: "string" },
        token: { type: "string" },
        json: { type: "boolean" },
        config: { type: "string" },
        status: { type: "string" },
        symbol: { type: "string" },
        limit: { type: "string" },
        direction: { type: "string" },
        offset: { type: "string" },
        volume: { type: "string" },
        price: { type: "string" },
        "order-id": { type: "string" },
        "time-condition": { type: "string" },
        "volume-condition": { type: "string" },
        reason: { type: "string" },
        portfolio: { type: "string" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    io.err(`error: ${(e as Error).message}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  let config: Config;
  try {
    config = await options.loadConfig(v.config);
  } catch (e) {
    io.err(`config: ${(e as Error).message}`);
    return 2;
  }
  const target = resolveTarget({ url: v.url, token: v.token }, { http: config.http, env: options.env });
  let request: { method: string; path: string; body?: unknown };
  try {
    request = buildRequest(command, positionals, v, config.tq.portfolio_id);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}`);
      return 2;
    }
    throw e;
  }
  let answer: ClientAnswer;
  try {
    answer = await callApi(target, request);
  } catch (e) {
    io.err(`error: cannot reach ${target.url}: ${(e as Error).message}`);
    return 1;
  }
  if (v.json) io.out(JSON.stringify(answer.json, null, 2));
  if (answer.status < 200 || answer.status >= 300) {
    const body = answer.json as { error?: string; message?: string } | null;
    io.err(
      `error: ${request.method} ${request.path} → ${answer.status}: ${body?.message ?? body?.error ?? ""}`,
    );
    return 1;
  }
  if (!v.json) { for (const line of render(command, request, answer.json)) io.out(line); }
  return 0;
}

function need(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") throw new UsageError(`${flag} is required`);
  return value;
}

function numberOf(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`${flag}: expected a number, got ${value}`);
  return n;
}

/** The REST call of a subcommand. */
export function buildRequest(
  command: ClientCommand,
  positionals: string[],
  v: Record<string, string | boolean | undefined>,
  portfolioId: string,
): { method: string; path: string; body?: unknown } {
  const str = (k: string) => v[k] as string | undefined;
  const max = (n: number) => {
    if (positionals.length > n) throw new UsageError(`unexpected argument: ${positionals[n]}`);
  };
  switch (command) {
    case "orders": {
      max(1);
      if (positionals[0]) return { method: "GET", path: `/orders/${encodeURIComponent(positionals[0])}` };
      const q = new URLSearchParams();
      for (const k of ["status", "symbol", "limit"]) if (str(k)) q.set(k, str(k)!);
      const qs = q.toString();
      return { method: "GET", path: `/orders${qs ? `?${qs}` : ""}` };
    }
    case "positions":
      max(0);
      return { method: "GET", path: "/positions" };
    case "cancel":
      max(1);
      return { method: "DELETE", path: `/orders/${encodeURIComponent(need(positionals[0], "ORDER_ID"))}` };
    case "submit": {
      max(0);
      const body: Record<string, unknown> = {
        symbol: need(str("symbol"), "--symbol"),
        direction: need(str("direction"), "--direction").toUpperCase(),
        offset: need(str("offset"), "--offset").toUpperCase(),
        volume: numberOf(need(str("volume"), "--volume"), "--volume"),
        order_id: str("order-id") ??
          `cli-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 4)}`,
        portfolio_id: str("portfolio") ?? portfolioId,
      };
      if (str("price") !== undefined) body.limit_price = numberOf(str("price")!, "--price");
      if (str("time-condition")) body.time_condition = str("time-condition")!.toUpperCase();
      if (str("volume-condition")) body.volume_condition = str("volume-condition")!.toUpperCase();
      return { method: "POST", path: "/orders", body };
    }
    case "kill-switch": {
      max(1);
      const mode = positionals[0];
      if (!mode) return { method: "GET", path: "/kill-switch" };
      const body: Record<string, unknown> = {
        mode: mode.toUpperCase(),
        reason: need(str("reason"), "--reason"),
        set_by: `cli:${Deno.env.get("USER") ?? "ops"}`,
      };
      if (str("symbol")) body.symbol = str("symbol");
      return { method: "PUT", path: "/kill-switch", body };
    }
  }
}

/** Format rows as an aligned table (first row = header). */
export function table(rows: (string | number | null | undefined)[][]): string[] {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? "" : String(c))));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => [...(r[i] ?? "")].length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
}

type Rec = Record<string, unknown>;

function orderRow(o: Rec) {
  return [
    o.id,
    o.status,
    o.symbol,
    `${o.direction ?? ""} ${o.offset ?? ""}`.trim(),
    o.volume,
    o.filled_quantity,
    o.limit_price ?? "market",
    o.avg_fill_price,
    o.updated_at,
  ] as (string | number | null)[];
}
const ORDER_HEAD = [
  "order_id",
  "status",
  "symbol",
  "side",
  "volume",
  "filled",
  "price",
  "avg_fill",
  "updated_at",
];

/** Short human output of an answer. */
export function render(command: ClientCommand, request: { method: string }, json: unknown): string[] {
  const j = json as Rec;
  switch (command) {
    case "orders": {
      if (Array.isArray(j.orders)) {
        const orders = j.orders as Rec[];
        return orders.length === 0 ? ["no orders"] : table([ORDER_HEAD, ...orders.map(orderRow)]);
      }
      const lines = table([ORDER_HEAD, orderRow(j.order as Rec)]);
      lines.push("", "events:");
      for (const e of (j.events ?? []) as Rec[]) {
        lines.push(`  #${e.seq} ${e.status} ${e.created_at} ${JSON.stringify(e.msg)}`);
      }
      for (const t of (j.trades ?? []) as Rec[]) {
        lines.push(`  fill ${t.volume} @ ${t.price} (${t.trade_id})`);
      }
      return lines;
    }
    case "positions": {
      const rows = (json as Rec[]).map((
        p,
      ) => [p.symbol, p.net, p.long, p.short, p.last_price, p.float_profit]);
      return rows.length === 0
        ? ["no positions"]
        : table([["symbol", "net", "long", "short", "last", "float_pl"], ...rows] as never);
    }
    case "submit":
    case "cancel": {
      const o = j.order as Rec;
      return [`${o.id} ${o.status}${command === "cancel" ? " (cancel sent)" : ""}`];
    }
    case "kill-switch": {
      if (request.method === "PUT") {
        const k = j.kill_switch as Rec;
        return [`kill switch ${k.symbol ? `${k.symbol} ` : ""}${k.mode}: ${k.reason}`];
      }
      const p = j.portfolio as Rec;
      const lines = [
        `portfolio: ${p.mode}${p.reason ? ` (${p.reason}, by ${p.set_by}, ${p.updated_at})` : ""}`,
      ];
      for (const s of (j.symbols ?? []) as Rec[]) lines.push(`${s.symbol}: ${s.mode} (${s.reason})`);
      return lines;
    }
  }
}
