import { assert, assertEquals, assertRejects } from "../tests/assert.ts";
import { withTimeout } from "./timeout.ts";

Deno.test("withTimeout: the answer when it comes first; the timer is cleared", async () => {
  let timedOut = false;
  assertEquals(await withTimeout(Promise.resolve(7), 1000, { onTimeout: () => timedOut = true }), 7);
  assert(!timedOut);
});

Deno.test("withTimeout: a rejection naming what did not answer; onTimeout called", async () => {
  let timedOut = false;
  const never = new Promise<number>(() => {});
  const e = await assertRejects(() =>
    withTimeout(never, 20, { what: "probe", onTimeout: () => timedOut = true })
  );
  assertEquals((e as Error).message, "probe: no answer within 20 ms");
  assert(timedOut);
  const plain = await assertRejects(() => withTimeout(never, 10));
  assertEquals((plain as Error).message, "no answer within 10 ms");
});
