/**
 * The integration commands of the README ("For qpto_engine: integration") run as written against a test
 * service: the `amqp-publish` block places an order, the `redis-cli` and `psql` blocks read it back; the
 * Python snippet too when `pika`, `redis` and `psycopg2` are importable. Each block is found by its
 * `<!-- readme-test: NAME -->` marker, so editing the README edits what is tested.
 *
 * Skipped (reason printed) without amqp-tools (`apt-get install -y amqp-tools`; `.ci/run` installs it).
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { withTestDatabase } from "./helpers/pg.ts";
import {
  cleanupRedis,
  eventually,
  rabbitPublisher,
  setBook,
  startTestService,
  TEST_REDIS_DB,
  testConfig,
  testNames,
  testRedis,
  testSql,
} from "./helpers/service.ts";

const README = new URL("../README.md", import.meta.url);

function which(cmd: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const missing = ["amqp-publish", "redis-cli", "psql"].filter((c) => !which(c));
if (missing.length > 0) {
  console.log(
    `README command test skipped: ${missing.join(", ")} not installed (apt-get install -y amqp-tools)`,
  );
}

/** A python3 that can import the snippet's modules (PATH first, then Debian's), or null. */
const pythonBin = ["python3", "/usr/bin/python3"].find((bin) => {
  try {
    return new Deno.Command(bin, {
      args: ["-c", "import pika, redis, psycopg2"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}) ?? null;
if (pythonBin === null) {
  console.log(
    "README Python snippet skipped: no python3 can import pika, redis and psycopg2 " +
      "(Debian: apt-get install -y python3-pika python3-redis python3-psycopg2)",
  );
}

/** The fenced block after `<!-- readme-test: name -->`. */
export function readmeBlock(text: string, name: string): { lang: string; code: string } {
  const re = new RegExp(`<!-- readme-test: ${name} -->\\s*\`\`\`(\\w+)\\n([\\s\\S]*?)\\n\`\`\``);
  const m = re.exec(text);
  if (!m) throw new Error(`README has no block marked readme-test: ${name}`);
  return { lang: m[1], code: m[2] };
}

async function run(lang: string, code: string, env: Record<string, string>) {
  const [cmd, args] = lang === "python"
    ? [pythonBin ?? "python3", ["-c", code]]
    : ["bash", ["-euo", "pipefail", "-c", code]];
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("readme: every marked block is there and has the language it claims", async () => {
  const text = await Deno.readTextFile(README);
  for (const [name, lang] of [["publish", "sh"], ["redis", "sh"], ["psql", "sh"], ["python", "python"]]) {
    assertEquals(readmeBlock(text, name).lang, lang, name);
  }
});

Deno.test({
  name: "readme: amqp-publish places an order; redis-cli and psql read it back (and the Python snippet)",
  ignore: missing.length > 0,
  async fn() {
    const text = await Deno.readTextFile(README);
    const names = testNames("readme");
    await withTestDatabase(async (db) => {
      const service = await startTestService(testConfig(names, db));
      const rabbit = await rabbitPublisher(names); // declares the exchange; cleans up the test names after
      const redis = testRedis();
      const sql = testSql(db);
      try {
        await eventually("broker ready", () => service.broker?.state().ready);
        await setBook(service);
        const env = {
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          PORTFOLIO: names.portfolio,
          EXCHANGE: names.exchange,
          AMQP_URL: "amqp://guest:guest@127.0.0.1:5672", // no trailing "/": amqp-tools reads it as vhost ""
          REDIS_DB: String(TEST_REDIS_DB),
          DATABASE_URL: `postgresql://${db.user}@${db.host}:${db.port}/${db.dbname}`,
        };
        const publish = readmeBlock(text, "publish");
        const p = await run("sh", publish.code, env);
        assertEquals(p.code, 0, p.stderr);
        await eventually(
          "readme-1 FILLED",
          async () =>
            (await sql`select status from order_history where id = 'readme-1'`)[0]?.status === "FILLED",
        );
        const positionKey = `TQ_Position_PortfolioId_${names.portfolio}_Symbol_SHFE.rb2605`;
        await eventually("redis position 1", async () => (await redis.get(positionKey)) === "1");

        const r = await run("sh", readmeBlock(text, "redis").code, env);
        assertEquals(r.code, 0, r.stderr);
        const [position, account] = r.stdout.trimEnd().split("\n");
        assertEquals(position, "1");
        const acct = JSON.parse(account);
        assert(acct.balance > 0 && acct.margin > 0, account);

        const q = await run("sh", readmeBlock(text, "psql").code, env);
        assertEquals(q.code, 0, q.stderr);
        assertEquals(q.stdout, "readme-1|FILLED|1\n1|RECEIVED\n2|SUBMITTED\n3|FILLED\n");

        if (pythonBin !== null) {
          const py = await run("python", readmeBlock(text, "python").code, env);
          assertEquals(py.code, 0, py.stderr);
          assertMatch(py.stdout, /^FILLED 0\n$/); // the snippet closes the lot the shell block opened
        }
      } finally {
        await service.lifecycle.stop();
        await rabbit.close();
        await cleanupRedis(redis, names.portfolio);
        await sql.end();
      }
    });
  },
});
