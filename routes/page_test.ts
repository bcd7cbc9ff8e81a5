import { assert, assertEquals, assertMatch } from "../tests/assert.ts";
import { account, snapshot } from "../tests/helpers/fake_broker.ts";
import { LiveView } from "../lib/stream/live_view.ts";
import { IntradaySeries } from "../lib/http/page/intraday.ts";
import { pageRoutes } from "./page.ts";

Deno.test("page: HTML shell with its own assets only, a strict CSP, the portfolio escaped; /intraday JSON", async () => {
  const view = new LiveView();
  const series = new IntradaySeries(view);
  const app = pageRoutes({ portfolioId: 'pf<"x">', series });
  const res = await app.request("/");
  assertEquals(res.status, 200);
  const html = await res.text();
  assertMatch(res.headers.get("content-security-policy") ?? "", /default-src 'none'; script-src 'self'/);
  assert(html.includes('content="pf&#60;&#34;x&#34;&#62;"'), "portfolio not escaped");
  const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  for (const ref of refs) assert(ref.startsWith("/"), `external reference ${ref}`);
  for (const asset of ["/page/app.js", "/page/app.css"]) {
    const r = await app.request(asset);
    assertEquals(r.status, 200, asset);
    assert((await r.text()).length > 1000, asset);
  }
  view.apply({ type: "snapshot", snapshot: snapshot({ account: account(123) }) });
  const intraday = await (await app.request("/intraday")).json();
  assertEquals(intraday.points.map((p: { balance: number }) => p.balance), [123]);
  series.close();
});
