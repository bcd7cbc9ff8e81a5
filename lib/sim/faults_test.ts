import { assertEquals } from "../../tests/assert.ts";
import { FaultPlan } from "./faults.ts";

Deno.test("fault plan validates each field and names the bad one", () => {
  const plan = new FaultPlan();
  assertEquals(plan.apply({ delay_ms: -1 }), "delay_ms: 0..60000");
  assertEquals(plan.apply({ duplicate: "yes" as unknown as boolean }), "duplicate: expected a boolean");
  assertEquals(plan.apply({ bogus: 1 } as never), "bogus: unknown fault");
  assertEquals(plan.settings, FaultPlan.none());
  assertEquals(plan.apply({ insert_faults: ["drop_after", "ignore"], duplicate: true }), null);
  assertEquals(plan.takeInsertFault(), "drop_after");
  assertEquals(plan.takeInsertFault(), "ignore");
  assertEquals(plan.takeInsertFault(), undefined);
  assertEquals(plan.settings.duplicate, true);
  assertEquals(plan.apply({ reset: true }), null);
  assertEquals(plan.settings, FaultPlan.none());
});
