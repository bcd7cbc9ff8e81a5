/**
 * Every documented route of a running service (real sim, PostgreSQL), called with no token, a bad one, the
 * read token and the full token: the outcome of each is checked against its scope; the WebSocket too.
 */
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import { eventually, startTestService, testConfig, testNames } from "../helpers/service.ts";
import { documentedRoutes } from "../../lib/http/openapi.ts";
import { requiredScope, wsTokenProtocols } from "../../lib/http/auth.ts";

const FULL = "full-" + crypto.randomUUID();
const READ = "read-" + crypto.randomUUID();

/** A harmless request for each route (bodies that fail validation, ids that do not exist). */
function requestFor(method: string, path: string): { path: string; body?: string } {
  const concrete = path.replace("{order_id}", "no-such-order");
  if (method === "post") return { path: concrete, body: "{}" };
  if (method === "put") return { path: concrete, body: "{}" };
  return { path: concrete };
}

Deno.test("auth per route: 401 without/bad token, 403 read token on trade routes, allowed with the right scope", async () => {
  const names = testNames("auth");
  await withTestDatabase(async (db) => {
    const config = testConfig(names, db, { rabbitmq: false, redis: false });
    config.http.token = FULL;
    config.http.read_token = READ;
    const service = await startTestService(config);
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      const base = service.http!.url;
      const doc = await (await fetch(`${base}/openapi.json`)).json();
      const routes = documentedRoutes(doc);
      assert(routes.length >= 14, `${routes.length} routes`);
      const outcomes: string[] = [];
      for (const route of routes) {
        const scope = requiredScope(route.method.toUpperCase(), route.path.replace(/\{(\w+)\}/g, ":$1"));
        assertEquals(doc.paths[route.path][route.method]["x-required-scope"], scope ?? "none");
        const req = requestFor(route.method, route.path);
        const status: Record<string, number> = {};
        for (const [who, token] of [["none", null], ["bad", "bad-token"], ["read", READ], ["full", FULL]]) {
          const headers: Record<string, string> = {};
          if (token) headers.authorization = `Bearer ${token}`;
          if (req.body) headers["content-type"] = "application/json";
          const res = await fetch(`${base}${req.path}`, {
            method: route.method.toUpperCase(),
            headers,
            body: req.body,
          });
          const text = await res.text();
          status[who!] = res.status;
          if (res.status === 401 || res.status === 403) {
            const body = JSON.parse(text);
            assertEquals(body.error, res.status === 401 ? "unauthorized" : "forbidden");
          }
        }
        outcomes.push(
          `${route.method.toUpperCase()} ${route.path} ${scope ?? "public"}: ${JSON.stringify(status)}`,
        );
        const denied = (s: number) => s === 401 || s === 403;
        if (scope === null) {
          for (const who of ["none", "bad", "read", "full"]) assert(!denied(status[who]), outcomes.at(-1));
        } else {
          assertEquals([status.none, status.bad], [401, 401], outcomes.at(-1));
          if (scope === "read") assert(!denied(status.read), outcomes.at(-1));
          else assertEquals(status.read, 403, outcomes.at(-1));
          assert(!denied(status.full), outcomes.at(-1));
        }
      }
      console.log(outcomes.join("\n"));
      // the trade routes were reached with the full token and refused on content, not on auth
      const post = await fetch(`${base}/orders`, {
        method: "POST",
        headers: { authorization: `Bearer ${FULL}`, "content-type": "application/json" },
        body: "{}",
      });
      assertEquals(post.status, 400);
      await post.body?.cancel();
    } finally {
      await service.lifecycle.stop();
    }
  });
});

function openWs(
  url: string,
  protocols?: string[],
): Promise<{ ok: boolean; first?: string; protocol?: string }> {
  return new Promise((resolve) => {
    const ws = protocols ? new WebSocket(url, protocols) : new WebSocket(url);
    const timer = setTimeout(() => {
      ws.close();
      resolve({ ok: false });
    }, 5000);
    ws.onmessage = (ev) => {
      clearTimeout(timer);
      const protocol = ws.protocol;
      ws.close();
      resolve({ ok: true, first: String(ev.data), protocol });
    };
    ws.onerror = () => {
      clearTimeout(timer);
      resolve({ ok: false });
    };
  });
}

Deno.test("auth: /ws takes the token as a subprotocol; without one the upgrade is refused", async () => {
  const names = testNames("authws");
  await withTestDatabase(async (db) => {
    const config = testConfig(names, db, { rabbitmq: false, redis: false });
    config.http.token = FULL;
    config.http.read_token = READ;
    const service = await startTestService(config);
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      const url = service.http!.url.replace("http:", "ws:") + "/ws";
      assertEquals((await openWs(url)).ok, false);
      assertEquals((await openWs(url, wsTokenProtocols("wrong"))).ok, false);
      const read = await openWs(url, wsTokenProtocols(READ));
      assert(read.ok, "read token refused");
      assertEquals(read.protocol, "tbc.bearer");
      assertEquals(JSON.parse(read.first!).type, "snapshot");
      const full = await openWs(url, wsTokenProtocols(FULL));
      assert(full.ok);
      const plain = await fetch(service.http!.url + "/ws", { headers: { authorization: `Bearer ${READ}` } });
      assertEquals(plain.status, 426);
      await plain.body?.cancel();
    } finally {
      await service.lifecycle.stop();
    }
  });
});
