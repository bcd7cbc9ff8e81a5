/**
 * The hostile-input corpus (`corpus.ts`, ≥ 500 seeded bodies) through both channels of a running service:
 * every body gets a clear refusal naming a field or `$` (REST: 400/404/409/413 with a JSON error; RabbitMQ:
 * the dead-letter queue with `x-reject-reason` and `x-reject-fields`, or — for bodies refused by a
 * pre-trade rule — an acked `REJECTED` row with the rule's code), while the valid orders interleaved with
 * them keep being ACCEPTED / FILLED. Ends with the audit.
 */
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import {
  apiUrl,
  cleanupRedis,
  eventually,
  setBook,
  startTestService,
  testNames,
  testRedis,
  testSql,
} from "../helpers/service.ts";
import { assertAudit } from "./audit.ts";
import { type CorpusEntry, generateCorpus } from "./corpus.ts";
import { faultConfig, ReliablePublisher, SHARED_RABBIT_URL } from "./harness.ts";
import type { Service } from "../../lib/service.ts";

const SEED = 20251224;

async function sendRest(
  service: Service,
  entry: CorpusEntry,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = apiUrl(service);
  const res = entry.expect.kind === "unknown_cancel"
    ? await fetch(`${url}/orders/${entry.orderId}`, { method: "DELETE" })
    : await fetch(`${url}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: entry.body,
    });
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch {
    json = { not_json: text.slice(0, 200) };
  }
  return { status: res.status, json };
}

/** What is wrong with a REST answer to `entry` (null = as expected). */
function checkRest(entry: CorpusEntry, status: number, json: Record<string, unknown>): string | null {
  const e = entry.expect;
  const errors = (json.errors as { field: string }[] | undefined) ?? [];
  const error = typeof json.error === "string" ? json.error : "";
  switch (e.kind) {
    case "valid":
      return status === 202 ? null : `expected 202, got ${status}`;
    case "invalid":
      if (status !== 400) return `expected 400, got ${status}`;
      if (!errors.some((x) => x.field === e.field)) return `no error naming ${e.field}: ${error}`;
      return error.includes(`${e.field}:`) ? null : `error text does not name ${e.field}: ${error}`;
    case "rule":
      if (status !== 400) return `expected 400, got ${status}`;
      return json.code === e.code && json.field === e.field
        ? null
        : `expected ${e.code}/${e.field}: ${error}`;
    case "too_large":
      // The service-wide body limit (lib/http/middleware.ts) answers before the route, naming `$`.
      return status === 413 && /^\$: body exceeds 65536 bytes/.test(error)
        ? null
        : `expected 413 (body exceeds 65536 bytes), got ${status} ${error}`;
    case "conflict":
      return status === 409 && error.includes(e.of) ? null : `expected 409, got ${status} ${error}`;
    case "unknown_cancel":
      return status === 404 && error !== "" ? null : `expected 404, got ${status} ${error}`;
  }
}

/** The field a dead letter of `entry` must name in `x-reject-fields` (null = not dead-lettered). */
function deadField(entry: CorpusEntry): string | null {
  switch (entry.expect.kind) {
    case "invalid":
      return entry.expect.field;
    case "too_large":
      return "$";
    case "conflict":
    case "unknown_cancel":
      return "order_id";
    default:
      return null;
  }
}

Deno.test("corpus: 500+ hostile bodies over REST and RabbitMQ are refused clearly; valid orders keep flowing", async () => {
  const names = testNames("corpus");
  await withTestDatabase(async (db) => {
    const service = await startTestService(faultConfig(names, db));
    const publisher = new ReliablePublisher(SHARED_RABBIT_URL, names);
    const redis = testRedis();
    const sql = testSql(db);
    try {
      await eventually(
        "ready and consuming",
        () => service.broker?.state().ready && service.intake?.state().consuming,
      );
      await setBook(service);
      // quotes of the other symbols the rule entries may name are not needed: unknown ones have none
      const rest = generateCorpus({ seed: SEED, portfolioId: names.portfolio, idPrefix: "r" });
      const amqp = generateCorpus({ seed: SEED + 1, portfolioId: names.portfolio, idPrefix: "q" });
      assert(rest.length >= 500 && amqp.length >= 500, "at least 500 bodies per channel");
      assert(new Set(rest.map((e) => e.category)).size >= 20, "every category present");

      // --- REST: one at a time, each answer checked --------------------------------------------------
      const restProblems: string[] = [];
      for (const entry of rest) {
        const { status, json } = await sendRest(service, entry);
        const problem = checkRest(entry, status, json);
        if (problem) {
          restProblems.push(`#${entry.index} ${entry.category} ${entry.body.slice(0, 80)}: ${problem}`);
        }
      }
      assertEquals(restProblems, [], `${restProblems.length} REST answer(s) wrong`);

      // --- RabbitMQ: all published, then the dead-letter queue and the rows checked ------------------
      for (const entry of amqp) {
        if (entry.expect.kind === "conflict") {
          const of = entry.expect.of;
          // the original must be recorded first, or the "conflict" could be taken as the original
          await eventually(
            `original ${of} recorded`,
            async () => (await sql`select 1 from order_history where id = ${of}`).length,
          );
        }
        await publisher.publish(entry.body, { raw: true });
      }
      const expectedDead = amqp.filter((e) => deadField(e) !== null);
      const dead: { body: string; headers: Record<string, unknown> }[] = [];
      await eventually(`${expectedDead.length} dead letters`, async () => {
        dead.push(...await publisher.deadLetters());
        return dead.length >= expectedDead.length;
      }, 60_000);
      const deadByBody = new Map<string, Record<string, unknown>>();
      for (const d of dead) deadByBody.set(d.body, d.headers);
      assertEquals(dead.length, expectedDead.length, "no other dead letters");

      const decided = amqp.filter((e) => e.expect.kind === "valid" || e.expect.kind === "rule");
      const ids = decided.map((e) => e.orderId!);
      const rows = await eventually("every valid or rule-refused message recorded and decided", async () => {
        const r = await sql`select id, status, reject_reason from order_history where id in ${sql(ids)}`;
        return r.length === ids.length &&
            r.every((x) => !["RECEIVED", "SUBMITTED", "UNKNOWN"].includes(x.status))
          ? r
          : null;
      }, 30_000);
      const rowById = new Map(rows.map((r) => [r.id, r]));
      const amqpProblems: string[] = [];
      for (const entry of amqp) {
        const field = deadField(entry);
        const where = `#${entry.index} ${entry.category} ${entry.body.slice(0, 80)}`;
        if (field !== null) {
          const headers = deadByBody.get(entry.body);
          if (!headers) {
            amqpProblems.push(`${where}: not dead-lettered`);
            continue;
          }
          const reason = String(headers["x-reject-reason"] ?? "");
          const fields = JSON.parse(String(headers["x-reject-fields"] ?? "[]")) as { field: string }[];
          if (reason === "") amqpProblems.push(`${where}: no x-reject-reason`);
          if (!fields.some((f) => f.field === field)) {
            amqpProblems.push(`${where}: fields ${JSON.stringify(fields)} lack ${field}`);
          }
          continue;
        }
        const row = rowById.get(entry.orderId!);
        if (entry.expect.kind === "valid") {
          const want = entry.expect.fills ? "FILLED" : "ACCEPTED";
          if (row?.status !== want) amqpProblems.push(`${where}: ${row?.status}, expected ${want}`);
        } else if (entry.expect.kind === "rule") {
          if (row?.status !== "REJECTED" || !String(row.reject_reason).startsWith(entry.expect.code)) {
            amqpProblems.push(
              `${where}: ${row?.status} ${row?.reject_reason}, expected REJECTED ${entry.expect.code}`,
            );
          }
        }
      }
      assertEquals(amqpProblems, [], `${amqpProblems.length} RabbitMQ outcome(s) wrong`);

      // the REST valid orders, too, ended as placed
      const restValid = rest.filter((e) => e.expect.kind === "valid");
      const restRows = await sql`select id, status from order_history where id in ${
        sql(restValid.map((e) => e.orderId!))
      }`;
      const restStatus = new Map(restRows.map((r) => [r.id, r.status]));
      for (const e of restValid) {
        const want = e.expect.kind === "valid" && e.expect.fills ? "FILLED" : "ACCEPTED";
        assertEquals(restStatus.get(e.orderId!), want, `${e.orderId}`);
      }

      const result = await assertAudit({
        portfolioId: names.portfolio,
        sql,
        snapshot: () => service.sim!.engine().snapshot("demo"),
        redis,
        expectedIds: [
          ...ids,
          ...rest.filter((e) => e.expect.kind === "valid" || e.expect.kind === "rule").map((e) => e.orderId!),
        ],
      });
      console.log(
        `corpus: ${rest.length} REST + ${amqp.length} RabbitMQ bodies, ${dead.length} dead letters, ` +
          `audit ${JSON.stringify(result.counts)}`,
      );
    } finally {
      await service.lifecycle.stop();
      await publisher.close();
      await cleanupRedis(redis, names.portfolio);
      await sql.end();
    }
  });
});
