import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "../../tests/assert.ts";
import {
  authenticate,
  AuthError,
  decodeJwtPayload,
  makeTestJwt,
  parseAccessToken,
  TOKEN_PATH,
  tokenNeedsRefresh,
} from "./auth.ts";

interface Seen {
  path: string;
  contentType: string | null;
  form: Record<string, string>;
}

async function withAuthServer(
  reply: (seen: Seen) => Response | Promise<Response>,
  fn: (url: string, seen: Seen[]) => Promise<void>,
): Promise<void> {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const s: Seen = {
      path: new URL(req.url).pathname,
      contentType: req.headers.get("content-type"),
      form: Object.fromEntries(new URLSearchParams(await req.text())),
    };
    seen.push(s);
    return await reply(s);
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

Deno.test("decodeJwtPayload reads base64url JSON, including non-ASCII and -/_ characters", () => {
  const claims = { sub: "4bb2a0dc-26d1", name: "快期 ~~~???>>>", exp: 1_700_000_000 };
  const jwt = makeTestJwt(claims);
  assertEquals(decodeJwtPayload(jwt), claims);
  const t = parseAccessToken(jwt);
  assertEquals(t.sub, "4bb2a0dc-26d1");
  assertEquals(t.expiresAtMs, 1_700_000_000_000);
});

Deno.test("decodeJwtPayload refuses what is not a JWT", () => {
  for (const bad of ["", "a.b", "a.b.c.d", "x.!!!.y", `x.${btoa("[1]")}.y`, `x.${btoa("nope")}.y`]) {
    assertThrows(() => decodeJwtPayload(bad), bad);
  }
  assertThrows(() => parseAccessToken(makeTestJwt({ exp: 1 })));
});

Deno.test("tokenNeedsRefresh within 60 s of exp, never without exp", () => {
  const t = parseAccessToken(makeTestJwt({ sub: "s", exp: 1000 }));
  assertEquals(tokenNeedsRefresh(t, 1000_000 - 61_000), false);
  assertEquals(tokenNeedsRefresh(t, 1000_000 - 60_000), true);
  assertEquals(tokenNeedsRefresh(parseAccessToken(makeTestJwt({ sub: "s" })), 1e15), false);
});

Deno.test("authenticate posts the password grant form and parses the token", async () => {
  const jwt = makeTestJwt({ sub: "user-sub-1", exp: 2_000_000_000 });
  await withAuthServer(() => Response.json({ access_token: jwt, refresh_token: "r" }), async (url, seen) => {
    const token = await authenticate({
      authUrl: url + "/",
      clientId: "shinny_tq",
      clientSecret: "sec",
      username: "alice",
      password: "p@ss w&rd",
    });
    assertEquals(token.sub, "user-sub-1");
    assertEquals(token.accessToken, jwt);
    assertEquals(seen.length, 1);
    assertEquals(seen[0].path, TOKEN_PATH);
    assertEquals(seen[0].contentType, "application/x-www-form-urlencoded");
    assertEquals(seen[0].form, {
      grant_type: "password",
      username: "alice",
      password: "p@ss w&rd",
      client_id: "shinny_tq",
      client_secret: "sec",
    });
  });
});

Deno.test("authenticate omits an empty client secret", async () => {
  const jwt = makeTestJwt({ sub: "s" });
  await withAuthServer(() => Response.json({ access_token: jwt }), async (url, seen) => {
    await authenticate({ authUrl: url, clientId: "c", clientSecret: "", username: "u", password: "p" });
    assertEquals("client_secret" in seen[0].form, false);
  });
});

Deno.test("authenticate failures name status and body but never the password", async () => {
  await withAuthServer(
    () =>
      new Response(
        JSON.stringify({ error: "invalid_grant", error_description: "Invalid user credentials" }),
        {
          status: 401,
        },
      ),
    async (url) => {
      const e = await assertRejects(() =>
        authenticate({ authUrl: url, clientId: "c", username: "u", password: "hunter2-secret" })
      );
      assert(e instanceof AuthError);
      assertEquals(e.status, 401);
      assertMatch(e.message, /^auth failed \(401, .*invalid_grant.*\)$/);
      assert(!e.message.includes("hunter2"));
    },
  );
  await withAuthServer(() => new Response("<html>oops</html>", { status: 200 }), async (url) => {
    const e = await assertRejects(() =>
      authenticate({ authUrl: url, clientId: "c", username: "u", password: "p" })
    );
    assertMatch(e.message, /not JSON/);
  });
  await withAuthServer(() => Response.json({ token_type: "bearer" }), async (url) => {
    const e = await assertRejects(() =>
      authenticate({ authUrl: url, clientId: "c", username: "u", password: "p" })
    );
    assertMatch(e.message, /no access_token/);
  });
});

Deno.test("authenticate times out with a clear error", async () => {
  let release = () => {};
  const hold = new Promise<void>((r) => release = r);
  await withAuthServer(async () => {
    await hold;
    return Response.json({});
  }, async (url) => {
    const e = await assertRejects(() =>
      authenticate({ authUrl: url, clientId: "c", username: "u", password: "p", timeoutMs: 50 })
    );
    assertMatch(e.message, /timed out after 50 ms/);
    release();
  });
});

Deno.test("authenticate reports an unreachable server", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const e = await assertRejects(() =>
    authenticate({ authUrl: `http://127.0.0.1:${port}`, clientId: "c", username: "u", password: "p" })
  );
  assertMatch(e.message, /^auth failed \(http:\/\/127\.0\.0\.1:\d+\/auth\/realms/);
});
