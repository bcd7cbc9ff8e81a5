import { assert } from "./assert.ts";
import { SERVICE_STOP_BUDGET_MS } from "../lib/service.ts";

Deno.test("stop budget: the service's whole stop fits inside the compose file's grace period before SIGKILL", async () => {
  const compose = await Deno.readTextFile(new URL("../docker-compose.yml", import.meta.url));
  const grace = compose.match(/^\s+stop_grace_period:\s*(\d+)s\s*$/m);
  assert(grace, "docker-compose.yml sets no stop_grace_period for the service");
  const graceMs = Number(grace[1]) * 1000;
  // At least 5 s of room for timers firing late and for the process to exit after the last stop.
  assert(
    SERVICE_STOP_BUDGET_MS + 5_000 <= graceMs,
    `stop budget ${SERVICE_STOP_BUDGET_MS} ms does not fit the ${graceMs} ms grace period`,
  );
});
