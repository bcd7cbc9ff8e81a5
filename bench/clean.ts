/**
 * `deno task bench -- clean`: remove what an interrupted bench run left behind — `tbc_bench_*` databases,
 * RabbitMQ queues and exchanges, and the `*bench_*` keys of Redis db 13. Every name it touches starts with the
 * bench's own prefixes, so nothing of the tests or of a real deployment is affected.
 *
 * @module
 */
import amqp from "amqplib";
import postgres from "postgres";
import { AMQP_URL, benchRedis } from "./harness.ts";

/** Remove the leftovers; returns what was removed. */
export async function cleanBench(): Promise<string[]> {
  const removed: string[] = [];
  const admin = postgres({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres", max: 1 });
  try {
    const dbs = await admin`select datname from pg_database where datname like 'tbc\\_bench\\_%'`;
    for (const { datname } of dbs) {
      await admin.unsafe(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      removed.push(`database ${datname}`);
    }
  } finally {
    await admin.end();
  }
  // RabbitMQ has no listing over AMQP: names come from the management CLI when present.
  const listed = async (what: "queues" | "exchanges") => {
    try {
      const out = await new Deno.Command("rabbitmqctl", {
        args: [`list_${what}`, "name", "-q"],
        stderr: "null",
      })
        .output();
      return new TextDecoder().decode(out.stdout).split("\n").map((s) => s.trim()).filter((s) =>
        s.startsWith("tbc_bench_")
      );
    } catch {
      return [];
    }
  };
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    for (const q of await listed("queues")) {
      await ch.deleteQueue(q);
      removed.push(`queue ${q}`);
    }
    for (const e of await listed("exchanges")) {
      await ch.deleteExchange(e);
      removed.push(`exchange ${e}`);
    }
    await ch.close();
  } finally {
    await conn.close();
  }
  const redis = benchRedis();
  try {
    const keys = await redis.keys("*PortfolioId_bench_*");
    if (keys.length > 0) await redis.del(...keys);
    removed.push(`${keys.length} Redis key(s)`);
  } finally {
    redis.disconnect();
  }
  return removed;
}

if (import.meta.main) {
  for (const r of await cleanBench()) console.log(`removed ${r}`);
}
