/**
 * `sandbox` and `real` run modes: authentication at a local Keycloak double (checks the form, returns a
 * JWT built here), the sim playing the brokers `快期模拟` and `H期货`.
 */
import { spyOnWsSends } from "../helpers/ws_spy.ts";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import type { Sim } from "../../lib/sim/mod.ts";
import { createBroker } from "../../lib/broker/mod.ts";
import { makeTestJwt, TOKEN_PATH } from "../../lib/broker/auth.ts";
import { control, Recorder, tqConfig, withSim } from "./env.ts";

const SUB = "4bb2a0dc-26d1-43f5-9d67-sandbox";
const ACCOUNTS = [
  { user: SUB, password: SUB, balance: 10_000_000 },
  { user: "8001", password: "real-pw", balance: 500_000 },
];
const BROKERS = ["快期模拟", "H期货"];

interface AuthDouble {
  url: string;
  forms: Record<string, string>[];
  /** Seconds until the issued tokens expire. */
  ttlS: number;
  /** Answer 401 while true. */
  refuse: boolean;
  close(): Promise<void>;
}

function startAuth(): AuthDouble {
  const double = {
    forms: [] as Record<string, string>[],
    ttlS: 3600,
    refuse: false,
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const form = Object.fromEntries(new URLSearchParams(await req.text()));
    double.forms.push(form);
    const ok = new URL(req.url).pathname === TOKEN_PATH && req.method === "POST" &&
      req.headers.get("content-type") === "application/x-www-form-urlencoded" &&
      form.grant_type === "password" && form.username === "alice" && form.password === "alice-pw" &&
      form.client_id === "shinny_tq";
    if (!ok || double.refuse) {
      return Response.json({ error: "invalid_grant", error_description: "Invalid user credentials" }, {
        status: 401,
      });
    }
    const exp = Math.floor(Date.now() / 1000) + double.ttlS;
    return Response.json({ access_token: makeTestJwt({ sub: SUB, exp, grants: { features: ["futr"] } }) });
  });
  return Object.assign(double, {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  });
}

function modeConfig(sim: Sim, auth: AuthDouble, tq: Record<string, unknown>) {
  const ws = sim.baseUrl.replace(/^http/, "ws");
  return tqConfig({
    username: "alice",
    password: "alice-pw",
    auth_url: auth.url,
    broker_list_url: `${sim.baseUrl}/broker-list.json`,
    symbols_url: `${sim.baseUrl}/t/md/symbols/latest.json`,
    md_url: `${ws}/t/md/front/mobile`,
    ...tq,
  });
}

/** Record the URLs of the sockets that sent, and the frames sent, meanwhile. */
async function spyWebSockets(fn: (urls: string[], sent: string[]) => Promise<void>): Promise<void> {
  await spyOnWsSends(async (frames) => {
    const view = <T>(pick: (f: { url: string; data: string }) => T, unique: boolean) =>
      new Proxy([] as T[], {
        get(target, key, receiver) {
          target.length = 0;
          for (const f of frames) {
            const v = pick(f);
            if (!unique || !target.includes(v)) target.push(v);
          }
          return Reflect.get(target, key, receiver);
        },
      });
    await fn(view((f) => f.url, true), view((f) => f.data, false));
  });
}

Deno.test("broker (sandbox): authenticates, logs in as the token's sub at 快期模拟, passes the token", async () => {
  const auth = startAuth();
  try {
    await withSim(async (sim) => {
      await spyWebSockets(async (urls, sent) => {
        const broker = createBroker(modeConfig(sim, auth, { run_mode: "sandbox" }));
        const rec = new Recorder(broker);
        try {
          await broker.start();
          await broker.waitReady(5000);
          assertEquals(rec.of("snapshot")[0].snapshot.account.balance, 10_000_000);
          assertEquals(auth.forms.length, 1);
          const trade = urls.find((u) => u.includes("/trade"))!;
          const token = new URL(trade).searchParams.get("access_token")!;
          assertEquals(JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub, SUB);
          const login = sent.map((s) => JSON.parse(s)).find((p) => p.aid === "req_login");
          assertEquals(login, { aid: "req_login", bid: "快期模拟", user_name: SUB, password: SUB });
          assertEquals(sent.filter((s) => s.includes("confirm_settlement")), []);
          // a long-lived token is reused on reconnect
          const from = rec.mark();
          await control(sim, "/sim/drop", { kind: "trade" });
          await rec.wait("snapshot", () => true, "snapshot after drop", { from });
          assertEquals(auth.forms.length, 1);
        } finally {
          await broker.stop();
          rec.close();
        }
      });
    }, { accounts: ACCOUNTS, brokers: BROKERS });
  } finally {
    await auth.close();
  }
});

Deno.test("broker (sandbox): a token within 60 s of expiry is renewed on reconnect", async () => {
  const auth = startAuth();
  auth.ttlS = 30;
  try {
    await withSim(async (sim) => {
      const broker = createBroker(modeConfig(sim, auth, { run_mode: "sandbox" }));
      const rec = new Recorder(broker);
      try {
        await broker.start();
        await broker.waitReady(5000);
        assertEquals(auth.forms.length, 1);
        const from = rec.mark();
        await control(sim, "/sim/drop", { kind: "trade" });
        await rec.wait("snapshot", () => true, "snapshot after drop", { from });
        assertEquals(auth.forms.length, 2);
      } finally {
        await broker.stop();
        rec.close();
      }
    }, { accounts: ACCOUNTS, brokers: BROKERS });
  } finally {
    await auth.close();
  }
});

Deno.test("broker (sandbox): a refused authentication is reported without the password and retried", async () => {
  const auth = startAuth();
  auth.refuse = true;
  try {
    await withSim(async (sim) => {
      const broker = createBroker(modeConfig(sim, auth, { run_mode: "sandbox" }));
      const rec = new Recorder(broker);
      try {
        await broker.start();
        const e = await rec.wait("state", (e) => e.state.attempts >= 2, "two failed attempts");
        assertEquals(e.state.last_error?.code, 401);
        assertMatch(e.state.last_error!.message, /^auth failed \(401, .*Invalid user credentials/);
        assert(!e.state.last_error!.message.includes("alice-pw"));
        assertEquals(e.state.phase, "backoff");
        auth.refuse = false;
        await broker.waitReady(5000);
        assert(auth.forms.length >= 3);
      } finally {
        await broker.stop();
        rec.close();
      }
    }, { accounts: ACCOUNTS, brokers: BROKERS });
  } finally {
    await auth.close();
  }
});

Deno.test("broker (real): authenticates, logs in to the broker account, confirms the settlement", async () => {
  const auth = startAuth();
  try {
    await withSim(async (sim) => {
      await spyWebSockets(async (urls, sent) => {
        const broker = createBroker(
          modeConfig(sim, auth, {
            run_mode: "real",
            broker: "H期货",
            account: "8001",
            account_password: "real-pw",
          }),
        );
        const rec = new Recorder(broker);
        try {
          await broker.start();
          await broker.waitReady(5000);
          assertEquals(rec.of("snapshot")[0].snapshot.account.balance, 500_000);
          assertEquals(auth.forms.length, 1);
          assert(urls.some((u) => u.includes("/trade?access_token=ey")));
          const packets = sent.map((s) => JSON.parse(s));
          const iLogin = packets.findIndex((p) => p.aid === "req_login");
          const iConfirm = packets.findIndex((p) => p.aid === "confirm_settlement");
          assertEquals(packets[iLogin], {
            aid: "req_login",
            bid: "H期货",
            user_name: "8001",
            password: "real-pw",
          });
          assert(iConfirm > iLogin, "confirm_settlement after req_login");
          assertEquals(packets[iConfirm], { aid: "confirm_settlement" });
          // after a reconnect: a new login and a new confirmation
          const from = rec.mark();
          await control(sim, "/sim/drop", { kind: "trade" });
          await rec.wait("snapshot", () => true, "snapshot after drop", { from });
          const again = sent.map((s) => JSON.parse(s));
          assertEquals(again.filter((p) => p.aid === "req_login").length, 2);
          assertEquals(again.filter((p) => p.aid === "confirm_settlement").length, 2);
        } finally {
          await broker.stop();
          rec.close();
        }
      });
    }, { accounts: ACCOUNTS, brokers: BROKERS });
  } finally {
    await auth.close();
  }
});

Deno.test("broker (real): a broker missing from the broker list is a clear error", async () => {
  const auth = startAuth();
  try {
    await withSim(async (sim) => {
      const broker = createBroker(
        modeConfig(sim, auth, { run_mode: "real", broker: "N期货", account: "8001", account_password: "x" }),
      );
      const rec = new Recorder(broker);
      try {
        await broker.start();
        const e = await rec.wait("state", (e) => e.state.last_error !== null, "error");
        assertMatch(e.state.last_error!.message, /^broker "N期货" is not in the broker list from http/);
      } finally {
        await broker.stop();
        rec.close();
      }
    }, { accounts: ACCOUNTS, brokers: BROKERS });
  } finally {
    await auth.close();
  }
});
