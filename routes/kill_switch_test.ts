import { getLogger } from "@logtape/logtape";
import { assertEquals } from "../tests/assert.ts";
import { KillSwitch, type KillSwitchChange } from "../lib/orders/kill_switch.ts";
import { killSwitchRoutes } from "./kill_switch.ts";

function setup(options: { fail?: boolean } = {}) {
  const saved: KillSwitchChange[] = [];
  const ks = new KillSwitch({
    load: () => Promise.resolve([]),
    set: (change) => {
      if (options.fail) return Promise.reject(new Error("connection refused"));
      saved.push(change);
      return Promise.resolve({
        entry: { ...change, updated_at: "2025-12-24T02:00:00.000000Z" },
        event_id: 10 + saved.length,
      });
    },
  }, { portfolioId: "demo", log: getLogger("test") });
  const app = killSwitchRoutes({
    killSwitch: ks,
    history: () =>
      Promise.resolve(saved.map((c, k) => ({ event_id: 11 + k, created_at: "t", ...c })).reverse()),
  });
  const put = (body: unknown, headers: Record<string, string> = {}) =>
    app.request("/kill-switch", {
      method: "PUT",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  return { app, ks, saved, put };
}

Deno.test("PUT /kill-switch: sets, persists with who and why; GET shows the state and the history", async () => {
  const { app, saved, put } = setup();
  let res = await put({ mode: "HALT", reason: "desk review" }, { "x-set-by": "alice" });
  assertEquals(res.status, 200);
  assertEquals(await res.json(), {
    kill_switch: {
      mode: "HALT",
      symbol: "",
      reason: "desk review",
      set_by: "alice",
      updated_at: "2025-12-24T02:00:00.000000Z",
    },
    event_id: 11,
    flatten: null,
  });
  res = await put({ mode: "REDUCE_ONLY", symbol: "SHFE.rb2605", reason: "rb", set_by: "bob" }, {
    "x-set-by": "x",
  });
  assertEquals(res.status, 200);
  res = await put({ mode: "OFF", symbol: "SHFE.rb2605", reason: "done" });
  assertEquals((await res.json()).kill_switch.set_by, "rest");
  assertEquals(saved.map((c) => [c.mode, c.symbol, c.set_by]), [
    ["HALT", "", "alice"],
    ["REDUCE_ONLY", "SHFE.rb2605", "bob"],
    ["OFF", "SHFE.rb2605", "rest"],
  ]);

  const state = await (await app.request("/kill-switch?symbol=SHFE.rb2605")).json();
  assertEquals(state.portfolio.mode, "HALT");
  assertEquals(state.symbols.map((e: { symbol: string; mode: string }) => [e.symbol, e.mode]), [[
    "SHFE.rb2605",
    "OFF",
  ]]);
  assertEquals(state.effective, { symbol: "SHFE.rb2605", mode: "HALT", scope: "portfolio" });
  assertEquals(state.history.map((h: { mode: string }) => h.mode), ["OFF", "REDUCE_ONLY", "HALT"]);
});

Deno.test("PUT /kill-switch: 400 names the fields, 503 when it cannot be persisted (nothing changed)", async () => {
  const { put } = setup();
  let res = await put({ mode: "STOP", reason: "" });
  assertEquals(res.status, 400);
  const body = await res.json();
  assertEquals(body.errors.map((e: { field: string }) => e.field).sort(), ["mode", "reason"]);
  res = await put("{not json");
  assertEquals(res.status, 400);

  const failing = setup({ fail: true });
  res = await failing.put({ mode: "HALT", reason: "x" });
  assertEquals(res.status, 503);
  assertEquals((await res.json()).error, "not changed: database: connection refused");
  assertEquals(failing.ks.state.portfolio().mode, "OFF");
});
