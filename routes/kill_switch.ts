/**
 * `GET /kill-switch`, `PUT /kill-switch` (contract §5): read and set the kill switch.
 *
 * PUT body `{"mode": "OFF"|"HALT"|"REDUCE_ONLY"|"FLATTEN", "symbol"?: "SHFE.rb2605", "reason": "…",
 * "set_by"?: "…"}`; who set it comes from `set_by`, else the `X-Set-By` header, else `rest`. The change is
 * persisted before it takes effect: 200 with the new setting and the change's event id; 400 with the field
 * errors; 503 when it could not be persisted, or on a standby instance (`NOT_LEADER`: only the active
 * instance changes the switch); nothing changed then. A FLATTEN answers at once; the cancels and
 * closing orders follow (see the orders and the log).
 *
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { KillSwitch } from "../lib/orders/kill_switch.ts";
import { KillSwitchNotActiveError, parseKillSwitchChange } from "../lib/orders/kill_switch.ts";
import { formatFieldErrors } from "../lib/orders/request_schema.ts";
import type { KillSwitchEvent } from "../lib/store/pg/kill_switch_store.ts";

/** Dependencies of {@link killSwitchRoutes}. */
export interface KillSwitchRouteDeps {
  killSwitch: KillSwitch;
  /** The latest changes, newest first (absent: no history in the answer). */
  history?: (limit: number) => Promise<KillSwitchEvent[]>;
}

/** The `/kill-switch` router. */
export function killSwitchRoutes(deps: KillSwitchRouteDeps): Hono {
  const app = new Hono();
  const { killSwitch } = deps;

  app.get("/kill-switch", async (c) => {
    const state = killSwitch.state;
    const symbol = c.req.query("symbol");
    const body: Record<string, unknown> = {
      portfolio: state.portfolio(),
      symbols: state.entries().filter((e) => e.symbol !== ""),
    };
    if (symbol) {
      const e = state.effective(symbol);
      body.effective = { symbol, mode: e.mode, scope: e.scope };
    }
    if (deps.history) {
      try {
        body.history = await deps.history(20);
      } catch (e) {
        body.history_error = `database: ${(e as Error).message}`;
      }
    }
    return c.json(body);
  });

  app.put(
    "/kill-switch",
    bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.json({ error: "$: body exceeds 16384 bytes" }, 413) }),
    async (c) => {
      let body: unknown;
      try {
        body = JSON.parse(await c.req.text());
      } catch {
        return c.json({ error: "$: not JSON", errors: [{ field: "$", message: "not JSON" }] }, 400);
      }
      const parsed = parseKillSwitchChange(body, c.req.header("x-set-by")?.trim() || "rest");
      if ("errors" in parsed) {
        return c.json({ error: formatFieldErrors(parsed.errors), errors: parsed.errors }, 400);
      }
      try {
        const result = await killSwitch.set(parsed.change, { source: "rest" });
        return c.json({
          kill_switch: result.entry,
          event_id: result.event_id,
          flatten: result.flatten ? "started" : null,
        });
      } catch (e) {
        if (e instanceof KillSwitchNotActiveError) {
          return c.json({ error: `not changed: ${e.message}`, code: e.code, retry: true }, 503);
        }
        return c.json({ error: `not changed: database: ${(e as Error).message}` }, 503);
      }
    },
  );
  return app;
}
