import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { configSchema } from "../config.ts";
import { resolveBrokerOptions } from "./mod.ts";

function tq(t: Record<string, unknown>) {
  return configSchema.parse({ tq: t }).tq;
}

Deno.test("resolveBrokerOptions (sim): URLs from the sim base, user and password from the sim accounts", () => {
  const o = resolveBrokerOptions(tq({}), {
    simBaseUrl: "http://127.0.0.1:7788/",
    simAccounts: [{ user: "demo", password: "pw1" }, { user: "b", password: "pw2" }],
  });
  assertEquals([o.mode, o.bid, o.user, o.password], ["sim", "快期模拟", "demo", "pw1"]);
  assertEquals(o.brokerListUrl, "http://127.0.0.1:7788/broker-list.json");
  assertEquals(o.symbolsUrl, "http://127.0.0.1:7788/t/md/symbols/latest.json");
  assertEquals(o.mdUrl, "ws://127.0.0.1:7788/t/md/front/mobile");
  assertEquals(o.reconnect, { initialMs: 1000, maxMs: 60_000, alarmAfterS: 120 });
  assertEquals(o.auth, undefined);
  const b = resolveBrokerOptions(tq({ account: "b", sim_url: "https://sim.example:8443" }), {
    simAccounts: [{ user: "demo", password: "pw1" }, { user: "b", password: "pw2" }],
  });
  assertEquals([b.user, b.password, b.mdUrl], ["b", "pw2", "wss://sim.example:8443/t/md/front/mobile"]);
  const c = resolveBrokerOptions(tq({ account: "x", account_password: "y", broker: "sim" }), {
    simBaseUrl: "http://h",
  });
  assertEquals([c.bid, c.user, c.password], ["sim", "x", "y"]);
});

Deno.test("resolveBrokerOptions (sim) refuses a missing base URL or user", () => {
  assertThrows(() => resolveBrokerOptions(tq({}), { simAccounts: [{ user: "d", password: "d" }] }));
  assertThrows(() => resolveBrokerOptions(tq({}), { simBaseUrl: "http://h" }));
  assertThrows(() => resolveBrokerOptions(tq({ account: "nobody" }), { simBaseUrl: "http://h" }));
});

Deno.test("resolveBrokerOptions (sandbox, real): auth settings and configured URLs", () => {
  const s = resolveBrokerOptions(
    tq({ run_mode: "sandbox", username: "u", password: "p", auth_client_secret: "s" }),
  );
  assertEquals([s.mode, s.bid, s.user, s.password], ["sandbox", "快期模拟", undefined, undefined]);
  assertEquals(s.auth, {
    url: "https://auth.shinnytech.com",
    clientId: "shinny_tq",
    clientSecret: "s",
    username: "u",
    password: "p",
  });
  assertEquals(s.brokerListUrl, "https://files.shinnytech.com/broker-list.json");
  const r = resolveBrokerOptions(
    tq({
      run_mode: "real",
      username: "u",
      password: "p",
      broker: "H期货",
      account: "8001",
      account_password: "a",
    }),
  );
  assertEquals([r.mode, r.bid, r.user, r.password, r.auth?.username], ["real", "H期货", "8001", "a", "u"]);
});
