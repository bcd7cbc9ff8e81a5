/**
 * The command line as a user runs it: `deno run main.ts …` in a folder of its own (no config.yaml there
 * unless the test writes one), checking exit codes, stdout and stderr.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
const DENO_JSON = `${ROOT}deno.json`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", DENO_JSON, MAIN, ...args],
    cwd: opts.cwd,
    env: { NO_COLOR: "1", ...opts.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tbc_cli_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cli: --help prints the usage with every subcommand and exits 0", async () => {
  await inTempDir(async (dir) => {
    const r = await cli(["--help"], { cwd: dir });
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /^Usage: tqsdk-broker-connect/);
    for (const sub of ["serve", "check-config", "migrate", "sim", "version", "--config PATH"]) {
      assert(r.stdout.includes(sub), `usage lacks ${sub}`);
    }
  });
});

Deno.test("cli: version prints name and version", async () => {
  await inTempDir(async (dir) => {
    const r = await cli(["version"], { cwd: dir });
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /^tqsdk-broker-connect \d+\.\d+\.\d+\n$/);
  });
});

Deno.test("cli: unknown subcommand, bad flag or extra argument → usage on stderr, exit 2", async () => {
  await inTempDir(async (dir) => {
    for (
      const [args, reason] of [
        [["bogus"], "unknown subcommand: bogus"],
        [["--nope"], "Unknown option '--nope'"],
        [["check-config", "extra"], "unexpected argument: extra"],
        [["--config"], "--config"],
      ] as const
    ) {
      const r = await cli([...args], { cwd: dir });
      assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert(r.stderr.includes(reason), `${args.join(" ")}: ${r.stderr}`);
      assert(r.stderr.includes("Usage: tqsdk-broker-connect"), r.stderr);
      assertEquals(r.stdout, "");
    }
  });
});

Deno.test("cli: a bad config file → exit 2 with one line per bad key on stderr", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/bad.yaml`;
    await Deno.writeTextFile(path, "tq:\n  run_mode: live\nhttp:\n  port: 99999\n  colour: red\n");
    const r = await cli(["check-config", "--config", path], { cwd: dir });
    assertEquals(r.code, 2);
    assertEquals(r.stdout, "");
    assertEquals(r.stderr.trimEnd().split("\n"), [
      `config error (${path}):`,
      "  tq.run_mode: expected one of real, sandbox, sim",
      "  http.port: must be <= 65535",
      "  http.colour: unknown key",
    ]);
    // serve refuses to start on the same file, with the same reason
    const s = await cli(["serve", "--config", path], { cwd: dir });
    assertEquals(s.code, 2);
    assert(s.stderr.includes("tq.run_mode: expected one of real, sandbox, sim"), s.stderr);
  });
});

Deno.test("cli: --config naming a missing file is an error, not the built-in default", async () => {
  await inTempDir(async (dir) => {
    const r = await cli(["check-config", "--config", `${dir}/missing.yaml`], { cwd: dir });
    assertEquals(r.code, 2);
    assert(r.stderr.includes(`${dir}/missing.yaml: file not found`), r.stderr);
  });
});

Deno.test("cli: check-config without a config file uses the built-in default, secrets redacted", async () => {
  await inTempDir(async (dir) => {
    const secret = "tq-Pa55-" + crypto.randomUUID();
    const r = await cli(["check-config"], { cwd: dir, env: { TQ_PASSWORD: secret } });
    assertEquals(r.code, 0, r.stderr);
    assert(r.stderr.includes("not found, using the built-in default"), r.stderr);
    assert(!r.stdout.includes(secret) && !r.stderr.includes(secret), "the secret leaked");
    assertMatch(r.stdout, /^tq:\n {2}username: ""\n {2}password: "\*\*\*"\n/);
    assertMatch(r.stdout, /run_mode: sim/);
    assertMatch(r.stdout, /database:\n {2}embedded: \.\/data\/pg\n/);
    assert(!/^redis:/m.test(r.stdout) && !/^rabbitmq:/m.test(r.stdout), r.stdout);
  });
});

Deno.test("cli: check-config reads ./config.yaml and redacts every secret it interpolates", async () => {
  await inTempDir(async (dir) => {
    const env = {
      TQ_PASSWORD: "s1-" + crypto.randomUUID(),
      TQ_ACCOUNT_PASSWORD: "s2-" + crypto.randomUUID(),
      REDIS_PASSWORD: "s3-" + crypto.randomUUID(),
      MQ_PASSWORD: "s4-" + crypto.randomUUID(),
      DB_PASSWORD: "s5-" + crypto.randomUUID(),
      BROKER_CONNECT_TOKEN: "s6-" + crypto.randomUUID(),
      SIM_PASSWORD: "s7-" + crypto.randomUUID(),
    };
    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      [
        "tq:",
        "  portfolio_id: from-cwd",
        "  password: ${TQ_PASSWORD}",
        "  account_password: ${TQ_ACCOUNT_PASSWORD}",
        "redis:",
        "  password: ${REDIS_PASSWORD}",
        "rabbitmq:",
        "  url: amqp://svc:${MQ_PASSWORD}@mq:5672/",
        "database:",
        "  host: db",
        "  password: ${DB_PASSWORD}",
        "http:",
        "  token: ${BROKER_CONNECT_TOKEN}",
        "sim:",
        "  accounts:",
        "    - user: demo",
        "      password: ${SIM_PASSWORD}",
      ].join("\n"),
    );
    const r = await cli(["check-config"], { cwd: dir, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stderr, "");
    for (const [name, value] of Object.entries(env)) {
      assert(!r.stdout.includes(value), `${name} leaked into check-config output`);
    }
    assertMatch(r.stdout, /portfolio_id: from-cwd/);
    assertMatch(r.stdout, /url: amqp:\/\/svc:\*\*\*@mq:5672\//);
    assertEquals(r.stdout.match(/"\*\*\*"/g)?.length, 6); // five passwords + the token; the URL is inline
  });
});

Deno.test("cli: migrate creates the tables in a PostgreSQL server, and a second run changes nothing", async () => {
  const postgres = (await import("postgres")).default;
  const admin = postgres({
    host: "127.0.0.1",
    port: 5432,
    user: "postgres",
    database: "postgres",
    onnotice: () => {},
  });
  const dbname = `tbc_cli_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  await admin.unsafe(`create database ${dbname}`);
  try {
    await inTempDir(async (dir) => {
      const path = `${dir}/pg.yaml`;
      await Deno.writeTextFile(
        path,
        `database:\n  host: 127.0.0.1\n  port: 5432\n  user: postgres\n  password: ""\n  dbname: ${dbname}\n  schema: tbc\n` +
          `log:\n  file: ${dir}/m.log\n`,
      );
      const first = await cli(["migrate", "--config", path], { cwd: dir });
      assertEquals(first.code, 0, first.stderr);
      assert(first.stderr.includes("applied migrations 1"), first.stderr);
      const second = await cli(["migrate", "--config", path], { cwd: dir });
      assertEquals(second.code, 0, second.stderr);
      assert(second.stderr.includes("schema is up to date"), second.stderr);
      const db = postgres({
        host: "127.0.0.1",
        port: 5432,
        user: "postgres",
        database: dbname,
        onnotice: () => {},
      });
      try {
        const tables =
          await db`select table_name from information_schema.tables where table_schema = 'tbc' order by 1`;
        assertEquals(tables.map((t) => t.table_name), [
          "kill_switch",
          "kill_switch_event",
          "order_event",
          "order_history",
          "schema_migrations",
          "trade",
        ]);
      } finally {
        await db.end();
      }
    });
  } finally {
    await admin.unsafe(`drop database if exists ${dbname} with (force)`);
    await admin.end();
  }
});
