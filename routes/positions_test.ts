import { assertEquals } from "../tests/assert.ts";
import { position, snapshot } from "../tests/helpers/fake_broker.ts";
import { LiveView } from "../lib/stream/live_view.ts";
import { positionRoutes } from "./positions.ts";

Deno.test("GET /positions: 503 before the first snapshot, then the live positions sorted by symbol", async () => {
  const view = new LiveView();
  const app = positionRoutes(view);
  let res = await app.request("/positions");
  assertEquals(res.status, 503);
  assertEquals(await res.json(), { error: "no broker snapshot yet" });

  view.apply({
    type: "snapshot",
    snapshot: snapshot({
      positions: [position("SHFE.rb2605", { long_today: 2 }), position("DCE.m2605", { short_his: 3 })],
    }),
  });
  view.apply({ type: "position", position: position("CZCE.SR605", { long_his: 1 }) });
  res = await app.request("/positions");
  assertEquals(res.status, 200);
  const body = await res.json();
  assertEquals(body.map((p: { symbol: string; net: number }) => [p.symbol, p.net]), [
    ["CZCE.SR605", 1],
    ["DCE.m2605", -3],
    ["SHFE.rb2605", 2],
  ]);
  assertEquals(body[1], position("DCE.m2605", { short_his: 3 }));

  // a symbol that vanished is listed flat
  view.apply({
    type: "snapshot",
    snapshot: snapshot({ positions: [position("SHFE.rb2605", { long_today: 2 })] }),
  });
  const after = await (await app.request("/positions")).json();
  assertEquals(after.map((p: { symbol: string; net: number }) => [p.symbol, p.net]), [
    ["CZCE.SR605", 0],
    ["DCE.m2605", 0],
    ["SHFE.rb2605", 2],
  ]);
});
