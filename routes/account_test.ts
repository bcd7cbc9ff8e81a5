import { assertEquals } from "../tests/assert.ts";
import { account, snapshot } from "../tests/helpers/fake_broker.ts";
import { LiveView } from "../lib/stream/live_view.ts";
import { accountRoutes } from "./account.ts";

Deno.test("GET /account: 503 before the first snapshot, then the live account", async () => {
  const view = new LiveView();
  const app = accountRoutes(view);
  let res = await app.request("/account");
  assertEquals(res.status, 503);
  assertEquals((await res.json()).error, "no broker snapshot yet");

  view.apply({ type: "snapshot", snapshot: snapshot({ account: account(1_000_000, { margin: 5000 }) }) });
  res = await app.request("/account");
  assertEquals(res.status, 200);
  assertEquals(await res.json(), account(1_000_000, { margin: 5000 }));

  view.apply({ type: "account", account: account(999_000, { margin: 6000 }) });
  assertEquals((await (await app.request("/account")).json()).margin, 6000);
});
