/** `connectDatabase` against the real local PostgreSQL (127.0.0.1:5432, user postgres, trust auth). */
import { createServer } from "node:net";
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "../../../tests/assert.ts";
import { closeDatabase, connectDatabase, describeDatabase, isEmbeddedConfig, parseInt8 } from "./connect.ts";

const SERVER = { host: "127.0.0.1", port: 5432, user: "postgres", password: "s3cret", dbname: "postgres" };

/** A TCP port on which nothing listens (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

Deno.test("parseInt8 parses safe integers and refuses the rest", () => {
  assertEquals(parseInt8("0"), 0);
  assertEquals(parseInt8("-42"), -42);
  assertEquals(parseInt8("9007199254740991"), Number.MAX_SAFE_INTEGER);
  assertThrows(() => parseInt8("9007199254740992"));
  assertThrows(() => parseInt8("abc"));
});

Deno.test("describeDatabase never shows the password", () => {
  assertEquals(describeDatabase(SERVER), "postgres://postgres@127.0.0.1:5432/postgres (schema public)");
  assert(!describeDatabase(SERVER).includes("s3cret"));
  assertEquals(
    describeDatabase({ embedded: "./data/pg" }, { schema: "x" }),
    "embedded PostgreSQL in ./data/pg (schema x)",
  );
  assert(isEmbeddedConfig({ embedded: "./data/pg" }));
  assert(!isEmbeddedConfig(SERVER));
});

Deno.test("connectDatabase: search_path is the schema; int8 → number, numeric → exact string", async () => {
  const sql = await connectDatabase(SERVER, { schema: 'odd "name"', max: 1, applicationName: "tbc-test" });
  try {
    const [sp] = await sql`show search_path`;
    assertEquals(sp.search_path, '"odd ""name"""');
    const [app] = await sql`show application_name`;
    assertEquals(app.application_name, "tbc-test");
    const [v] = await sql`
      select 7::int8 as big, count(*) as n, 3500.10::numeric as price, 0.1::numeric + 0.2::numeric as sum,
             2::int as small, ${12}::int8 as param`;
    assertEquals(v.big, 7);
    assertEquals(v.n, 1);
    assertEquals(v.price, "3500.10");
    assertEquals(v.sum, "0.3");
    assertEquals(v.small, 2);
    assertEquals(v.param, 12);
    // A value a JS number cannot hold fails the query; the client stays usable.
    const err = await assertRejects(() => sql`select 9007199254740993::int8 as x`);
    assertMatch(err.message, /safe integer/);
    const [after] = await sql`select 5::int8 as x`;
    assertEquals(after.x, 5);
  } finally {
    await closeDatabase(sql);
  }
});

Deno.test("connectDatabase: the first query of a new client can take sql.array parameters", async () => {
  // Without the probe, a client's first query sends its arrays as plain text (porsager/postgres#789).
  const sql = await connectDatabase(SERVER, { max: 1 });
  try {
    const [r] = await sql.unsafe(
      "select cardinality($1::text[]) as n, $2::int[] as seqs",
      [sql.array(["a", "b,c"]), sql.array([1, 2])] as never,
      { prepare: true },
    );
    assertEquals(r.n, 2);
    assertEquals(r.seqs, [1, 2]);
  } finally {
    await closeDatabase(sql);
  }
});

Deno.test("connectDatabase: an unreachable server fails fast with a message naming it (no password)", async () => {
  const port = await freePort();
  const err = await assertRejects(() =>
    connectDatabase({ ...SERVER, port }, { connectTimeoutSeconds: 2, schema: "s" })
  );
  assertMatch(err.message, new RegExp(`postgres://postgres@127\\.0\\.0\\.1:${port}/postgres \\(schema s\\)`));
  assert(!err.message.includes("s3cret"));
});

Deno.test("connectDatabase: a missing database is reported", async () => {
  const err = await assertRejects(() => connectDatabase({ ...SERVER, dbname: "tbc_no_such_db_for_test" }));
  assertMatch(err.message, /tbc_no_such_db_for_test/);
  assertMatch(err.message, /does not exist/);
});
