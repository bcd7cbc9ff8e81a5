import { assert, assertEquals, assertRejects, assertThrows } from "../tests/assert.ts";
import {
  type Config,
  ConfigError,
  fillPortfolioId,
  isEmbeddedDatabase,
  loadConfig,
  parseConfig,
  redactConfig,
  redactUrl,
} from "./config.ts";
import { defaultConfigText } from "./default_config.ts";

function problems(text: string, env: Record<string, string> = {}): readonly string[] {
  const e = assertThrows(() => parseConfig(text, "test.yaml", { env }));
  assert(e instanceof ConfigError, `expected ConfigError, got ${e}`);
  return e.problems;
}

Deno.test("config: an empty file gives the documented defaults", () => {
  const c = parseConfig("", "empty.yaml", { env: {} });
  assertEquals(c, {
    tq: {
      username: "",
      password: "",
      portfolio_id: "demo",
      run_mode: "sim",
      broker: "",
      account: "",
      account_password: "",
      sim_url: "",
      auth_url: "https://auth.shinnytech.com",
      auth_client_id: "shinny_tq",
      auth_client_secret: "",
      broker_list_url: "https://files.shinnytech.com/broker-list.json",
      symbols_url: "https://openmd.shinnytech.com/t/md/symbols/latest.json",
      md_url: "wss://openmd.shinnytech.com/t/md/front/mobile",
      reconnect: { initial_ms: 1000, max_ms: 60000, alarm_after_s: 120 },
    },
    database: { embedded: "./data/pg", schema: "public" },
    http: {
      host: "127.0.0.1",
      port: 8080,
      token: "",
      read_token: "",
      cors_origins: [],
      max_body_bytes: 65536,
    },
    log: { file: "tqsdk_broker_connect.log", level: "info", format: "text" },
    sim: {
      host: "127.0.0.1",
      port: 7788,
      clock: "2025-12-24T10:00:00+08:00",
      seed: 1,
      tick_ms: 500,
      accounts: [{ user: "demo", password: "demo", balance: 10000000 }],
    },
    risk: {
      max_request_age_ms: 5000,
      max_order_volume: 100,
      max_order_notional: 50_000_000,
      max_net_position: 500,
      insert_rate_per_s: 50,
      insert_burst: 100,
      cancel_rate_per_s: 50,
      cancel_burst: 100,
      cancel_warn_per_contract: 400,
      cancel_limit_per_contract: 480,
      symbols: {},
    },
  });
  assertEquals(c.redis, undefined);
  assertEquals(c.rabbitmq, undefined);
});

Deno.test("config: config.yaml is exactly the embedded default text", async () => {
  const onDisk = await Deno.readTextFile(new URL("../config.yaml", import.meta.url));
  assertEquals(
    defaultConfigText,
    onDisk,
    "lib/default_config.ts drifted from config.yaml: run `deno run -A tools/gen_default_config.ts`",
  );
});

Deno.test("config: the embedded default is sim with an embedded database and no Redis/RabbitMQ", () => {
  const c = parseConfig(defaultConfigText, "default", { env: {} });
  assertEquals(c.tq.run_mode, "sim");
  assertEquals(c.database, { embedded: "./data/pg", schema: "public" });
  assert(isEmbeddedDatabase(c.database));
  assertEquals(c.redis, undefined);
  assertEquals(c.rabbitmq, undefined);
  assertEquals(c.sim.port, 7788);
  assertEquals(c.http, {
    host: "127.0.0.1",
    port: 8080,
    token: "",
    read_token: "",
    cors_origins: [],
    max_body_bytes: 65536,
  });
});

Deno.test("config: the commented production sections of the default are valid when uncommented", () => {
  const text = defaultConfigText.split("\n").map((line) => {
    const m = /^# ((redis|rabbitmq):.*| {2}\S.*)$/.exec(line);
    return m ? m[1] : line;
  }).join("\n");
  const c = parseConfig(text, "uncommented", { env: { REDIS_PASSWORD: "r-secret" } });
  assertEquals(c.redis, { host: "127.0.0.1", port: 6379, password: "r-secret", db: 1 });
  assertEquals(c.rabbitmq, {
    url: "amqp://guest:guest@127.0.0.1:5672/",
    order_request_queue: "tq_order_requests",
    order_request_exchange: "tq_ws_api_request_exchange",
    order_request_routing_key: "PortfolioId_{portfolio_id}",
    prefetch: 64,
    dead_letter_exchange: "tq_ws_api_request_exchange.dead",
    dead_letter_queue: "tq_order_requests.dead",
    heartbeat_s: 10,
    reconnect_initial_ms: 500,
    reconnect_max_ms: 30_000,
  });
});

Deno.test("config: ${VAR} and ${VAR:-default} interpolation, numbers from strings, $${ literal", () => {
  const text = [
    "tq:",
    "  username: ${TQ_USERNAME}",
    "  password: ${TQ_PASSWORD:-fallback}",
    "  portfolio_id: pf-${DESK:-main}",
    "http:",
    "  port: ${HTTP_PORT:-8181}",
    "  token: ${EMPTY:-dflt}",
    "database:",
    "  host: ${DB_HOST:-db.local}",
    "  password: 'a$${b}c'",
    "  dbname: ${DB_NAME}",
  ].join("\n");
  const c = parseConfig(text, "t", {
    env: { TQ_USERNAME: "alice", TQ_PASSWORD: "p#w: {x}\nnext", EMPTY: "", DB_NAME: "orders" },
  });
  assertEquals(c.tq.username, "alice");
  assertEquals(c.tq.password, "p#w: {x}\nnext"); // special characters do not change the YAML
  assertEquals(c.tq.portfolio_id, "pf-main");
  assertEquals(c.http.port, 8181);
  assertEquals(c.http.token, "dflt"); // set but empty → default, like the shell
  assert(!isEmbeddedDatabase(c.database));
  assertEquals(c.database, {
    host: "db.local",
    port: 5432,
    user: "postgres",
    password: "a${b}c",
    dbname: "orders",
    schema: "public",
  });
});

Deno.test("config: env may be a function", () => {
  const c = parseConfig("http: {port: '${P}'}", "t", { env: (n) => n === "P" ? "9001" : undefined });
  assertEquals(c.http.port, 9001);
});

Deno.test("config: an unset ${VAR} without default is an error naming the key and the variable", () => {
  assertEquals(problems("tq:\n  password: ${NOT_SET_ANYWHERE}\n"), [
    "tq.password: environment variable NOT_SET_ANYWHERE is not set (use ${NOT_SET_ANYWHERE:-default} to allow that)",
  ]);
  assertEquals(problems("tq:\n  password: ${1BAD}\n"), [
    'tq.password: bad variable reference "${1BAD}" (use ${NAME} or ${NAME:-default})',
  ]);
});

Deno.test("config: a bad run_mode is one line naming the key", () => {
  assertEquals(problems("tq:\n  run_mode: live\n"), ["tq.run_mode: expected one of real, sandbox, sim"]);
});

Deno.test("config: every problem is reported, one line each", () => {
  const text = [
    "tq:",
    "  run_mode: paper",
    "  colour: blue",
    "http:",
    "  port: 70000",
    "log:",
    "  level: loud",
    "  format: xml",
    "sim:",
    "  clock: yesterday",
    "  seed: 1.5",
    "  accounts:",
    "    - {user: a, password: x}",
    "    - {user: a, password: y, balance: -1}",
    "risky: {}",
  ].join("\n");
  assertEquals(
    [...problems(text)].sort(),
    [
      "risky: unknown key",
      "http.port: must be <= 65535",
      "log.format: expected one of text, json",
      "log.level: expected one of debug, info, warning, error",
      "sim.accounts[1].balance: must be > 0",
      "sim.accounts[1].user: duplicate user",
      'sim.clock: expected "wall" or an ISO-8601 date-time with offset, e.g. 2025-12-24T10:00:00+08:00',
      "sim.seed: expected an integer, got number 1.5",
      "tq.colour: unknown key",
      "tq.run_mode: expected one of real, sandbox, sim",
    ].sort(),
  );
});

Deno.test("config: duplicate sim users and type errors name the key", () => {
  assertEquals(
    problems("sim:\n  accounts:\n    - {user: a, password: x}\n    - {user: a, password: y}\n"),
    ["sim.accounts[1].user: duplicate user"],
  );
  assertEquals(problems("tq: [1]\nhttp: 3\n"), [
    "tq: expected a mapping, got a list",
    "http: expected a mapping, got number 3",
  ]);
  assertEquals(problems("database:\n  port: x\n  dbname: ''\n"), [
    'database.port: expected a number, got string "x"',
    "database.dbname: must not be empty",
  ]);
  assertEquals(problems("sim:\n  accounts: []\n"), ["sim.accounts: needs at least 1 item(s)"]);
  assertEquals(problems("sim:\n  accounts:\n    - {password: x}\n"), ["sim.accounts[0].user: is required"]);
});

Deno.test("config: database.embedded cannot be mixed with server keys", () => {
  assertEquals(problems("database:\n  embedded: ./pg\n  host: h\n"), [
    "database.host: not allowed together with database.embedded",
  ]);
  const c = parseConfig("database:\n  embedded: ./elsewhere\n  schema: tbc\n", "t", { env: {} });
  assertEquals(c.database, { embedded: "./elsewhere", schema: "tbc" });
  assertEquals(problems("database:\n  schema: 'x; drop'\n"), [
    "database.schema: must be a plain SQL identifier",
  ]);
});

Deno.test("config: empty values count as absent; log level is case-insensitive", () => {
  const c = parseConfig("tq:\n  broker:\nredis:\nlog:\n  level: WARNING\n", "t", { env: {} });
  assertEquals(c.tq.broker, "");
  assertEquals(c.redis, undefined);
  assertEquals(c.log.level, "warning");
});

Deno.test("config: real and sandbox modes require their credentials", () => {
  assertEquals(problems("tq:\n  run_mode: real\n"), [
    "tq.broker: required when run_mode is real",
    "tq.account: required when run_mode is real",
    "tq.account_password: required when run_mode is real",
    "tq.username: required when run_mode is real",
    "tq.password: required when run_mode is real",
  ]);
  assertEquals(problems("tq:\n  run_mode: sandbox\n  username: u\n"), [
    "tq.password: required when run_mode is sandbox",
  ]);
  const ok = parseConfig("tq: {run_mode: sandbox, username: u, password: p}", "t", { env: {} });
  assertEquals(ok.tq.run_mode, "sandbox");
});

Deno.test("config: a YAML syntax error is one line with the position", () => {
  assertEquals(problems("tq:\n  a: b: c\n"), [
    "test.yaml:2:6: YAML error: Nested mappings are not allowed in compact mappings",
  ]);
  assertEquals(problems("- 1\n- 2\n"), ["(root): expected a mapping, got a list"]);
  assertEquals(problems("tq: {}\ntq: {}\n").length, 1);
});

function fullConfig(): Config {
  const text = [
    "tq: {username: u, password: tq-secret, account_password: acct-secret}",
    "redis: {password: redis-secret}",
    "rabbitmq: {url: 'amqp://bob:mq-secret@mq:5672/vh'}",
    "database: {host: db, password: db-secret}",
    "http: {token: http-secret}",
    "sim: {accounts: [{user: a, password: sim-secret}, {user: b, password: ''}]}",
  ].join("\n");
  return parseConfig(text, "t", { env: {} });
}

Deno.test("config: redactConfig hides every secret and leaves empty ones empty", () => {
  const c = fullConfig();
  const r = redactConfig(c);
  const shown = JSON.stringify(r);
  for (
    const secret of ["tq-secret", "acct-secret", "redis-secret", "mq-secret", "db-secret", "http-secret"]
  ) {
    assert(!shown.includes(secret), `${secret} leaked: ${shown}`);
  }
  assert(!shown.includes("sim-secret"));
  assertEquals(r.tq.password, "***");
  assertEquals(r.tq.account_password, "***");
  assertEquals(r.redis?.password, "***");
  assertEquals(r.rabbitmq?.url, "amqp://bob:***@mq:5672/vh");
  assert(!isEmbeddedDatabase(r.database));
  assertEquals(r.database.password, "***");
  assertEquals(r.http.token, "***");
  assertEquals(r.sim.accounts.map((a) => a.password), ["***", ""]);
  assertEquals(r.tq.username, "u"); // not a secret
  // the original is untouched
  assertEquals(c.tq.password, "tq-secret");
  assertEquals(c.sim.accounts[0].password, "sim-secret");
  // empty secrets stay empty
  const d = redactConfig(parseConfig("", "t", { env: {} }));
  assertEquals([d.tq.password, d.tq.account_password, d.http.token], ["", "", ""]);
});

Deno.test("config: redactUrl", () => {
  assertEquals(redactUrl("amqp://u:p@h:5672/"), "amqp://u:***@h:5672/");
  assertEquals(redactUrl("amqps://u:p%40ss@h/"), "amqps://u:***@h/");
  assertEquals(redactUrl("amqp://h:5672/"), "amqp://h:5672/");
  assertEquals(redactUrl("amqp://u@h/"), "amqp://u@h/");
  assertEquals(redactUrl("amqp://u:@h/"), "amqp://u:@h/");
});

Deno.test("config: fillPortfolioId", () => {
  assertEquals(fillPortfolioId("PortfolioId_{portfolio_id}", "demo"), "PortfolioId_demo");
  assertEquals(fillPortfolioId("a.{portfolio_id}.{portfolio_id}", "p"), "a.p.p");
  assertEquals(fillPortfolioId("fixed", "p"), "fixed");
});

Deno.test("config: loadConfig reads a file; a missing file is a ConfigError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/c.yaml`;
    await Deno.writeTextFile(path, "tq:\n  portfolio_id: ${PF}\nsim:\n  port: 0\n");
    const c = await loadConfig(path, { env: { PF: "p7" } });
    assertEquals(c.tq.portfolio_id, "p7");
    assertEquals(c.sim.port, 0);
    const e = await assertRejects(() => loadConfig(`${dir}/nope.yaml`, { env: {} }));
    assert(e instanceof ConfigError);
    assertEquals(e.problems, [`${dir}/nope.yaml: file not found`]);
    await Deno.writeTextFile(path, "tq:\n  run_mode: x\n");
    const e2 = await assertRejects(() => loadConfig(path, { env: {} }));
    assert(e2 instanceof ConfigError);
    assert(e2.message.includes(path) && e2.message.includes("tq.run_mode: expected one of"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: rabbitmq dead-letter names derive from the seed names unless given; bounds checked", () => {
  const derived = parseConfig("rabbitmq: {order_request_exchange: ex, order_request_queue: q}", "t", {
    env: {},
  });
  assertEquals(derived.rabbitmq?.dead_letter_exchange, "ex.dead");
  assertEquals(derived.rabbitmq?.dead_letter_queue, "q.dead");
  const given = parseConfig(
    "rabbitmq: {dead_letter_exchange: dlx, dead_letter_queue: dlq, prefetch: '8', heartbeat_s: 0}",
    "t",
    { env: {} },
  );
  assertEquals(given.rabbitmq?.dead_letter_exchange, "dlx");
  assertEquals(given.rabbitmq?.dead_letter_queue, "dlq");
  assertEquals(given.rabbitmq?.prefetch, 8);
  assertEquals(given.rabbitmq?.heartbeat_s, 0);
  assertEquals(problems("rabbitmq: {prefetch: 0}"), ["rabbitmq.prefetch: must be >= 1"]);
});

Deno.test("config: risk section: the shipped values are the defaults; overrides, strict keys and bounds", () => {
  const empty = parseConfig("", "t", { env: {} });
  assertEquals(parseConfig(defaultConfigText, "default", { env: {} }).risk, empty.risk);
  const c = parseConfig(
    [
      "risk:",
      "  max_request_age_ms: 0",
      "  max_order_volume: '20'",
      "  symbols:",
      "    SHFE.au: { max_order_volume: 5, max_net_position: 0 }",
      "    CZCE.SR605: { max_order_notional: 1000000 }",
    ].join("\n"),
    "t",
    { env: {} },
  );
  assertEquals(c.risk.max_request_age_ms, 0);
  assertEquals(c.risk.max_order_volume, 20);
  assertEquals(c.risk.max_net_position, 500);
  assertEquals(c.risk.symbols, {
    "SHFE.au": { max_order_volume: 5, max_net_position: 0 },
    "CZCE.SR605": { max_order_notional: 1_000_000 },
  });
  assertEquals(problems("risk: {max_order_volum: 3}"), ["risk.max_order_volum: unknown key"]);
  assertEquals(problems("risk: {symbols: {SHFE.rb: {max_volume: 3}}}"), [
    "risk.symbols.SHFE.rb.max_volume: unknown key",
  ]);
  assertEquals(problems("risk: {symbols: {rb2605: {max_order_volume: 3}}}"), [
    "risk.symbols.rb2605: expected EXCHANGE.product or EXCHANGE.code as key, e.g. SHFE.rb or SHFE.rb2605",
  ]);
  assertEquals(problems("risk: {max_order_volume: -1}"), ["risk.max_order_volume: must be >= 0"]);
  assertEquals(problems("risk: {insert_rate_per_s: 0}"), ["risk.insert_rate_per_s: must be > 0"]);
  assertEquals(problems("risk: {cancel_limit_per_contract: 500}"), [
    "risk.cancel_limit_per_contract: must be <= 499",
  ]);
  assertEquals(problems("risk: {cancel_warn_per_contract: 450, cancel_limit_per_contract: 420}"), [
    "risk.cancel_warn_per_contract: must be <= cancel_limit_per_contract (420)",
  ]);
});

Deno.test("config: http scopes, CORS and body limit", () => {
  const c = parseConfig(
    "http: {token: '${T}', read_token: '${R}', cors_origins: [https://desk.example], max_body_bytes: 2048}",
    "t",
    { env: { T: "full-secret", R: "read-secret" } },
  );
  assertEquals(c.http.token, "full-secret");
  assertEquals(c.http.read_token, "read-secret");
  assertEquals(c.http.cors_origins, ["https://desk.example"]);
  assertEquals(c.http.max_body_bytes, 2048);
  const shown = redactConfig(c);
  assertEquals([shown.http.token, shown.http.read_token], ["***", "***"]);
  assertEquals(problems("http: {read_token: r}"), [
    "http.read_token: read_token needs token to be set too (token is the full-access one)",
  ]);
  assertEquals(problems("http: {token: same, read_token: same}"), [
    "http.read_token: must differ from http.token",
  ]);
  assertEquals(problems("http: {max_body_bytes: 10}"), ["http.max_body_bytes: must be >= 1024"]);
});
