/**
 * A clean stop releases the portfolio lease and says so at info level: ops read a WARNING "on STANDBY" as
 * a lost lease (another instance took over, or the database went away), so a stop must not write one.
 */
import type { LogRecord } from "@logtape/logtape";
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import { eventually, startTestService, testConfig, testNames } from "../helpers/service.ts";
import { setupLogging, shutdownLogging } from "../../lib/log.ts";

function text(r: LogRecord): string {
  return r.message.map(String).join("");
}

Deno.test("lease: a clean stop logs the release at info, not a WARNING that the instance is on standby", async () => {
  const names = testNames("leaserel");
  const dir = await Deno.makeTempDir({ prefix: "tbc_leaserel_" });
  const records: LogRecord[] = [];
  await setupLogging({ file: `${dir}/app.log`, level: "info", format: "text" }, {
    console: false,
    sinks: [(r) => records.push(r)],
  });
  try {
    await withTestDatabase(async (db) => {
      const service = await startTestService(testConfig(names, db, { rabbitmq: false, redis: false }));
      try {
        await eventually("lease held", () => service.lease?.held);
      } finally {
        await service.lifecycle.stop();
      }
    });
  } finally {
    await shutdownLogging();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const lease = records.filter((r) => r.category.includes("lease"));
  assert(lease.some((r) => r.level === "info" && text(r).includes("ACTIVE")), lease.map(text).join("\n"));
  const released = lease.filter((r) => text(r).includes("released"));
  assertEquals(released.map((r) => r.level), ["info"], lease.map(text).join("\n"));
  assertEquals(lease.filter((r) => text(r).includes("STANDBY")), [], lease.map(text).join("\n"));
});
