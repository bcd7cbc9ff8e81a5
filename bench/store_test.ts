import { assertEquals, assertThrows } from "../tests/assert.ts";
import { testSql } from "../tests/helpers/service.ts";
import { withTestDatabase } from "../tests/helpers/pg.ts";
import { sqlLiteral } from "./store.ts";

Deno.test("sqlLiteral: text, numbers, null, arrays and the driver's array parameter", () => {
  assertEquals(sqlLiteral(null), "NULL");
  assertEquals(sqlLiteral(undefined), "NULL");
  assertEquals(sqlLiteral(3501.5), "3501.5");
  assertEquals(sqlLiteral(-2), "(-2)");
  assertEquals(sqlLiteral("it's"), "'it''s'");
  assertEquals(sqlLiteral(["a", 1, null]), "ARRAY['a', 1, NULL]");
  for (const bad of [[], new Date(0), new Uint8Array(1), { value: ["x"], type: 3802 }]) {
    assertThrows(() => sqlLiteral(bad));
  }
  assertEquals(assertThrows(() => sqlLiteral(NaN)).message, "sqlLiteral: NaN is not a finite number");
});

Deno.test("sqlLiteral: PostgreSQL reads each literal back as the value it was made from", async () => {
  await withTestDatabase(async (db) => {
    const sql = testSql(db);
    try {
      const text = `{"event":"received","q":"it's \\\\ \\"x\\"","u":"订单 \u00e9"}`;
      const [row] = await sql.unsafe(
        `select ${sqlLiteral(text)}::text as t, ${sqlLiteral(["a'b", "c"])}::text[] as a, ${
          sqlLiteral([1, 2])
        }::int[] as n,
        ${sqlLiteral(null)}::text as z, ${sqlLiteral(-0.25)}::numeric::text as d,
        ${sqlLiteral(sql.array(["p", "q"]))}::text[] as p`,
      );
      assertEquals(row, { t: text, a: ["a'b", "c"], n: [1, 2], z: null, d: "-0.25", p: ["p", "q"] });
      assertThrows(() => sqlLiteral(sql.json({ a: 1 } as never)));
    } finally {
      await sql.end();
    }
  });
});
