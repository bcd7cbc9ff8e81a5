import { Hono } from "hono";
import { assert, assertEquals } from "../../tests/assert.ts";
import {
  authMiddleware,
  base64url,
  bindWarning,
  identify,
  isLoopback,
  presentedToken,
  principalOf,
  requiredScope,
  tokensEqual,
  wsTokenProtocols,
} from "./auth.ts";

Deno.test("auth: required scope by method and path", () => {
  assertEquals(requiredScope("GET", "/health"), null);
  assertEquals(requiredScope("GET", "/metrics"), null);
  assertEquals(requiredScope("GET", "/"), null);
  assertEquals(requiredScope("GET", "/docs"), null);
  assertEquals(requiredScope("GET", "/docs/swagger-ui.css"), null);
  assertEquals(requiredScope("GET", "/page/app.js"), null);
  assertEquals(requiredScope("GET", "/openapi.json"), null);
  assertEquals(requiredScope("GET", "/orders"), "read");
  assertEquals(requiredScope("GET", "/ws"), "read");
  assertEquals(requiredScope("GET", "/kill-switch"), "read");
  assertEquals(requiredScope("POST", "/orders"), "trade");
  assertEquals(requiredScope("DELETE", "/orders/a"), "trade");
  assertEquals(requiredScope("PUT", "/kill-switch"), "trade");
  // writing to a public path is not public
  assertEquals(requiredScope("POST", "/health"), "trade");
  // a path merely starting like a public one is not public
  assertEquals(requiredScope("GET", "/healthz"), "read");
  assertEquals(requiredScope("GET", "/docsx"), "read");
});

Deno.test("auth: token comparison and identification", () => {
  assert(tokensEqual("abc", "abc"));
  assert(!tokensEqual("abc", "abd"));
  assert(!tokensEqual("abc", "abcd"));
  const tokens = { token: "full-1", read_token: "read-1" };
  assertEquals(identify(tokens, "full-1")?.scopes, ["read", "trade"]);
  assertEquals(identify(tokens, "read-1")?.scopes, ["read"]);
  assertEquals(identify(tokens, "read-2"), null);
  assertEquals(identify({ token: "full-1", read_token: "" }, ""), null);
});

Deno.test("auth: the token comes from the Authorization header or a WebSocket subprotocol", () => {
  assertEquals(presentedToken(new Headers({ authorization: "Bearer s3cr=t/+" })), "s3cr=t/+");
  assertEquals(presentedToken(new Headers({ authorization: "bearer  x " })), "x");
  assertEquals(presentedToken(new Headers({ authorization: "Basic eDp5" })), null);
  const token = "tök=n/with+odd chars";
  const protocols = wsTokenProtocols(token);
  assertEquals(protocols[0], "tbc.bearer");
  assert(/^[A-Za-z0-9._-]+$/.test(protocols[1]), protocols[1]); // a valid subprotocol token
  assertEquals(presentedToken(new Headers({ "sec-websocket-protocol": protocols.join(", ") })), token);
  assertEquals(presentedToken(new Headers({ "sec-websocket-protocol": "tbc.bearer" })), null);
  assertEquals(presentedToken(new Headers({ "sec-websocket-protocol": "tbc.token.!!" })), null);
  assertEquals(base64url("\u00ff\u00fe"), "w7_Dvg");
});

function app(tokens: { token: string; read_token?: string }): Hono {
  const a = new Hono();
  a.use(authMiddleware(tokens));
  a.get("/health", (c) => c.json({ who: principalOf(c).name }));
  a.get("/orders", (c) => c.json({ who: principalOf(c).name }));
  a.post("/orders", (c) => c.json({ who: principalOf(c).name }));
  return a;
}

async function call(a: Hono, method: string, path: string, token?: string) {
  const res = await a.request(path, {
    method,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: await res.json(), www: res.headers.get("www-authenticate") };
}

Deno.test("auth middleware: 401 and 403 with JSON bodies, scopes enforced, public routes open", async () => {
  const a = app({ token: "full-1", read_token: "read-1" });
  const none = await call(a, "GET", "/orders");
  assertEquals(none.status, 401);
  assertEquals(none.body.error, "unauthorized");
  assertEquals(none.www, 'Bearer realm="tqsdk-broker-connect"');
  const bad = await call(a, "GET", "/orders", "nope");
  assertEquals([bad.status, bad.body.message], [401, "the bearer token is not valid"]);
  assertEquals((await call(a, "GET", "/orders", "read-1")).body, { who: "read_token" });
  const forbidden = await call(a, "POST", "/orders", "read-1");
  assertEquals([forbidden.status, forbidden.body.error, forbidden.body.required_scope], [
    403,
    "forbidden",
    "trade",
  ]);
  assertEquals((await call(a, "POST", "/orders", "full-1")).body, { who: "token" });
  assertEquals((await call(a, "GET", "/health")).body, { who: "anonymous" });
  assertEquals((await call(a, "GET", "/health", "full-1")).body, { who: "token" });
});

Deno.test("auth middleware: no token configured = authentication off", async () => {
  const a = app({ token: "" });
  assertEquals((await call(a, "POST", "/orders")).status, 200);
  assertEquals((await call(a, "GET", "/orders", "whatever")).status, 200);
});

Deno.test("auth: bind warning only for a non-loopback host without a token", () => {
  assert(isLoopback("127.0.0.1") && isLoopback("::1") && isLoopback("[::1]") && isLoopback("localhost"));
  assert(!isLoopback("0.0.0.0") && !isLoopback("10.1.2.3"));
  assertEquals(bindWarning("127.0.0.1", { token: "" }), null);
  assertEquals(bindWarning("0.0.0.0", { token: "t" }), null);
  assert(bindWarning("0.0.0.0", { token: "" })?.includes("without a token"));
});

Deno.test("selectWsProtocol: tbc.bearer when offered, wherever it is; never another offer", async () => {
  const { selectWsProtocol } = await import("./auth.ts");
  assertEquals(selectWsProtocol("tbc.token.c2VjcmV0, tbc.bearer"), "tbc.bearer");
  assertEquals(selectWsProtocol("tbc.bearer,tbc.token.c2VjcmV0"), "tbc.bearer");
  assertEquals(selectWsProtocol("tbc.token.c2VjcmV0"), undefined);
  assertEquals(selectWsProtocol("chat, superchat"), undefined);
  assertEquals(selectWsProtocol(""), undefined);
  assertEquals(selectWsProtocol(null), undefined);
});
