/**
 * Configuration: load `config.yaml`, interpolate `${VAR}` / `${VAR:-default}` from the environment,
 * validate against one zod schema (contract §1) and redact secrets for display.
 *
 * Interpolation happens on the parsed YAML tree (string values only), so a secret containing `#`, `:` or a
 * newline cannot change the YAML structure. Numeric keys accept numeric strings (`port: ${PORT:-8080}`).
 * `$${` is a literal `${`. A mapping value left empty (`broker:`) counts as absent, so its default applies.
 *
 * Every problem becomes one line naming its key (`tq.run_mode: expected one of real, sandbox, sim`); all of
 * them are gathered in a {@link ConfigError}.
 *
 * @module
 */
import { parseDocument } from "yaml";
import { z } from "zod";

/** Path of the configuration file when `--config` is not given. */
export const defaultConfigPath = "./config.yaml";

/** Folder of the embedded PostgreSQL when the `database` section is absent. */
export const defaultEmbeddedDatabasePath = "./data/pg";

/** The placeholder that replaces a secret in {@link redactConfig}. */
export const REDACTED = "***";

// ---------------------------------------------------------------------------------------------------------
// Schema building blocks
// ---------------------------------------------------------------------------------------------------------

/** A number written as a string (from `${VAR}` interpolation) becomes a number. */
function numeric(value: unknown): unknown {
  if (typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return value;
}

function port() {
  return z.preprocess(numeric, z.number().int().min(0).max(65535));
}

function str() {
  return z.string();
}

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

const runModes = ["real", "sandbox", "sim"] as const;
/** The values of `log.level`. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
const logFormats = ["text", "json"] as const;

const tqSchema = z.strictObject({
  username: str().default(""),
  password: str().default(""),
  portfolio_id: z.string().regex(/^\S+$/, "must be a non-empty string without spaces").default("demo"),
  run_mode: z.enum(runModes).default("sim"),
  broker: str().default(""),
  account: str().default(""),
  account_password: str().default(""),
  /** `sim` mode: URL of an already running sim exchange (`http://127.0.0.1:7788`); empty = start it in-process. */
  sim_url: z.union([z.literal(""), z.url({ protocol: /^https?$/ })]).default(""),
  /** shinnytech servers (sandbox/real); override only to point at a mirror or a test double. */
  auth_url: z.url({ protocol: /^https?$/ }).default("https://auth.shinnytech.com"),
  auth_client_id: z.string().min(1).default("shinny_tq"),
  auth_client_secret: str().default(""),
  broker_list_url: z.url({ protocol: /^https?$/ }).default("https://files.shinnytech.com/broker-list.json"),
  symbols_url: z.url({ protocol: /^https?$/ }).default(
    "https://openmd.shinnytech.com/t/md/symbols/latest.json",
  ),
  md_url: z.url({ protocol: /^wss?$/ }).default("wss://openmd.shinnytech.com/t/md/front/mobile"),
  /** Reconnect backoff of the broker connection: jittered exponential, capped, never giving up. */
  reconnect: z.strictObject({
    initial_ms: z.preprocess(numeric, z.number().int().min(10).max(60_000)).default(1000),
    max_ms: z.preprocess(numeric, z.number().int().min(100).max(3_600_000)).default(60_000),
    /** Raise the alarm (health, log) when not ready for this long. */
    alarm_after_s: z.preprocess(numeric, z.number().int().min(1)).default(120),
  }).prefault({}),
});

const redisSchema = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: port().default(6379),
  password: str().default(""),
  db: z.preprocess(numeric, z.number().int().min(0)).default(0),
});

const rabbitmqSchema = z.strictObject({
  url: z.string().regex(/^amqps?:\/\//, "must start with amqp:// or amqps://").default(
    "amqp://guest:guest@127.0.0.1:5672/",
  ),
  order_request_queue: z.string().min(1).default("tq_order_requests"),
  order_request_exchange: z.string().min(1).default("tq_ws_api_request_exchange"),
  order_request_routing_key: z.string().min(1).default("PortfolioId_{portfolio_id}"),
  /** Unacknowledged deliveries at once; also the number of requests handled concurrently. */
  prefetch: z.preprocess(numeric, z.number().int().min(1).max(65535)).default(64),
  /** Durable topic exchange for refused requests; empty = `<order_request_exchange>.dead`. */
  dead_letter_exchange: str().default(""),
  /** Durable queue bound to the dead-letter exchange with `#`; empty = `<order_request_queue>.dead`. */
  dead_letter_queue: str().default(""),
  /** AMQP heartbeat in seconds (0 = off); a `heartbeat=` in the URL wins. */
  heartbeat_s: z.preprocess(numeric, z.number().int().min(0).max(3600)).default(10),
  /** Reconnect backoff: jittered exponential from `reconnect_initial_ms` up to `reconnect_max_ms`, forever. */
  reconnect_initial_ms: z.preprocess(numeric, z.number().int().min(10).max(60_000)).default(500),
  reconnect_max_ms: z.preprocess(numeric, z.number().int().min(100).max(3_600_000)).default(30_000),
}).transform((r) => ({
  ...r,
  dead_letter_exchange: r.dead_letter_exchange || `${r.order_request_exchange}.dead`,
  dead_letter_queue: r.dead_letter_queue || `${r.order_request_queue}.dead`,
}));

const schemaName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a plain SQL identifier").default(
  "public",
);

const embeddedDatabaseSchema = z.strictObject({
  embedded: z.string().min(1),
  schema: schemaName,
});

const serverDatabaseSchema = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: port().default(5432),
  user: z.string().min(1).default("postgres"),
  password: str().default(""),
  dbname: z.string().min(1).default("postgres"),
  schema: schemaName,
});

const httpSchema = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: port().default(8080),
  /** Bearer token with full access (scopes `read` and `trade`); empty = no authentication. */
  token: str().default(""),
  /** Optional second bearer token with the `read` scope only (GET routes and the stream). */
  read_token: str().default(""),
  /** Origins allowed by CORS (`https://desk.example`, or `*`); empty = CORS off (no headers sent). */
  cors_origins: z.array(z.string().min(1)).default([]),
  /** Largest accepted request body in bytes (413 above). */
  max_body_bytes: z.preprocess(numeric, z.number().int().min(1024).max(16 * 1024 * 1024)).default(65536),
}).refine((h) => h.read_token === "" || h.token !== "", {
  message: "read_token needs token to be set too (token is the full-access one)",
  path: ["read_token"],
}).refine((h) => h.read_token === "" || h.read_token !== h.token, {
  message: "must differ from http.token",
  path: ["read_token"],
});

const logSchema = z.strictObject({
  file: z.string().min(1).default("tqsdk_broker_connect.log"),
  level: z.preprocess((v) => typeof v === "string" ? v.toLowerCase() : v, z.enum(LOG_LEVELS)).default("info"),
  format: z.enum(logFormats).default("text"),
});

const simAccountSchema = z.strictObject({
  user: z.string().min(1),
  password: str(),
  balance: z.preprocess(numeric, z.number().positive()).default(10_000_000),
});

const simSchema = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: port().default(7788),
  clock: z.string().refine(
    (v) => v === "wall" || (ISO_WITH_OFFSET.test(v) && !Number.isNaN(Date.parse(v))),
    'expected "wall" or an ISO-8601 date-time with offset, e.g. 2025-12-24T10:00:00+08:00',
  ).default("2025-12-24T10:00:00+08:00"),
  seed: z.preprocess(numeric, z.number().int()).default(1),
  tick_ms: z.preprocess(numeric, z.number().int().min(0).max(60_000)).default(500),
  accounts: z.array(simAccountSchema).min(1).default([{
    user: "demo",
    password: "demo",
    balance: 10_000_000,
  }])
    .superRefine((accounts, ctx) => {
      const seen = new Set<string>();
      accounts.forEach((a, i) => {
        if (seen.has(a.user)) ctx.addIssue({ code: "custom", path: [i, "user"], message: "duplicate user" });
        seen.add(a.user);
      });
    }),
});

const riskLimitOverrideSchema = z.strictObject({
  max_order_volume: z.preprocess(numeric, z.number().int().min(0)).optional(),
  max_order_notional: z.preprocess(numeric, z.number().min(0)).optional(),
  max_net_position: z.preprocess(numeric, z.number().int().min(0)).optional(),
});

/** A `risk.symbols` key: `EXCHANGE.product` (`SHFE.rb`) or a symbol (`SHFE.rb2605`, `CZCE.SR605`). */
const RISK_SYMBOL_KEY = /^[A-Z]+\.[A-Za-z][A-Za-z0-9-]*$/;

/** The exchanges flag an account at this many cancels of one contract in one trading day. */
const EXCHANGE_CANCEL_THRESHOLD = 500;

/**
 * `risk:` — pre-trade limits the send gate enforces (lib/orders/rules). Desk limits of 0 allow nothing
 * (`max_net_position: 0` allows only orders that reduce the position).
 */
const riskSchema = z.strictObject({
  /** Refuse a request whose `timestamp` is older (or further in the future) than this; 0 = off. */
  max_request_age_ms: z.preprocess(numeric, z.number().int().min(0)).default(5000),
  /** Largest volume of one order, lots. */
  max_order_volume: z.preprocess(numeric, z.number().int().min(0)).default(100),
  /** Largest price × volume × volume_multiple of one order, CNY. */
  max_order_notional: z.preprocess(numeric, z.number().min(0)).default(50_000_000),
  /** Largest |long − short| per symbol, counting our working orders on the same side. */
  max_net_position: z.preprocess(numeric, z.number().int().min(0)).default(500),
  insert_rate_per_s: z.preprocess(numeric, z.number().positive()).default(50),
  insert_burst: z.preprocess(numeric, z.number().int().min(1)).default(100),
  cancel_rate_per_s: z.preprocess(numeric, z.number().positive()).default(50),
  cancel_burst: z.preprocess(numeric, z.number().int().min(1)).default(100),
  /** Cancels of one contract in one trading day from which each cancel is logged with a warning. */
  cancel_warn_per_contract: z.preprocess(numeric, z.number().int().min(1)).default(400),
  /** Cancels of one contract in one trading day after which cancels are refused (below the exchanges' 500). */
  cancel_limit_per_contract: z.preprocess(
    numeric,
    z.number().int().min(1).max(EXCHANGE_CANCEL_THRESHOLD - 1),
  ).default(480),
  /** Overrides per product (`SHFE.rb`) or symbol (`SHFE.rb2605`); the symbol wins over its product. */
  symbols: z.record(z.string(), riskLimitOverrideSchema).superRefine((symbols, ctx) => {
    for (const key of Object.keys(symbols)) {
      if (!RISK_SYMBOL_KEY.test(key)) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: "expected EXCHANGE.product or EXCHANGE.code as key, e.g. SHFE.rb or SHFE.rb2605",
        });
      }
    }
  }).default({}),
}).superRefine((r, ctx) => {
  if (r.cancel_warn_per_contract > r.cancel_limit_per_contract) {
    ctx.addIssue({
      code: "custom",
      path: ["cancel_warn_per_contract"],
      message: `must be <= cancel_limit_per_contract (${r.cancel_limit_per_contract})`,
    });
  }
});

/**
 * The whole configuration schema, in one place. Later sections (risk limits, kill switch, …) are added here
 * as new optional keys; every object is strict, so an unknown key is an error.
 */
export const configSchema = z.strictObject({
  tq: tqSchema.prefault({}),
  redis: redisSchema.optional(),
  rabbitmq: rabbitmqSchema.optional(),
  database: z.union([embeddedDatabaseSchema, serverDatabaseSchema]).prefault({
    embedded: defaultEmbeddedDatabasePath,
  }),
  http: httpSchema.prefault({}),
  log: logSchema.prefault({}),
  sim: simSchema.prefault({}),
  risk: riskSchema.prefault({}),
}).superRefine((c, ctx) => {
  const need = (key: keyof typeof c.tq, why: string) => {
    if (c.tq[key] === "") {
      ctx.addIssue({ code: "custom", path: ["tq", key], message: `required when ${why}` });
    }
  };
  if (c.tq.run_mode === "real") {
    need("broker", "run_mode is real");
    need("account", "run_mode is real");
    need("account_password", "run_mode is real");
  }
  if (c.tq.run_mode === "real" || c.tq.run_mode === "sandbox") {
    need("username", `run_mode is ${c.tq.run_mode}`);
    need("password", `run_mode is ${c.tq.run_mode}`);
  }
});

/** The validated configuration. */
export type Config = z.infer<typeof configSchema>;
/** `tq:` — shinnytech account, portfolio and run mode. */
export type TqConfig = Config["tq"];
/** `redis:` — absent means no Redis writes. */
export type RedisConfig = z.infer<typeof redisSchema>;
/** `rabbitmq:` — absent means REST intake only. */
export type RabbitmqConfig = z.infer<typeof rabbitmqSchema>;
/** `database:` with `embedded: <folder>` — an in-process PostgreSQL (PGlite). */
export type EmbeddedDatabaseConfig = z.infer<typeof embeddedDatabaseSchema>;
/** `database:` with host/port/user/password/dbname — a PostgreSQL server. */
export type ServerDatabaseConfig = z.infer<typeof serverDatabaseSchema>;
/** `database:` — either form; tell them apart with {@link isEmbeddedDatabase}. */
export type DatabaseConfig = Config["database"];
/** `http:` — the REST/WebSocket listener. */
export type HttpConfig = Config["http"];
/** `log:` — file, level and line format. */
export type LogConfig = Config["log"];
/** Log level names accepted in `log.level`. */
export type LogLevelName = LogConfig["level"];
/** `sim:` — the local DIFF exchange. */
export type SimConfig = Config["sim"];
/** One account of the sim exchange. */
export type SimAccountConfig = SimConfig["accounts"][number];
/** `risk:` — pre-trade limits (desk limits, rates, cancel counts, request age). */
export type RiskConfig = Config["risk"];
/** `risk.symbols[key]`: limit overrides of one product or symbol. */
export type RiskLimitOverride = RiskConfig["symbols"][string];
/** `tq.run_mode`. */
export type RunMode = TqConfig["run_mode"];

/** True when the database section selects the embedded PostgreSQL. */
export function isEmbeddedDatabase(db: DatabaseConfig): db is EmbeddedDatabaseConfig {
  return "embedded" in db;
}

/** Fill `{portfolio_id}` in a routing-key template (`PortfolioId_{portfolio_id}` → `PortfolioId_demo`). */
export function fillPortfolioId(template: string, portfolioId: string): string {
  return template.replaceAll("{portfolio_id}", portfolioId);
}

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

/** A configuration that cannot be used; `problems` holds one line per bad key. */
export class ConfigError extends Error {
  /** One line per problem, each starting with the key path (`tq.run_mode: …`). */
  readonly problems: readonly string[];
  /** Where the text came from (a file path or `<embedded default>`). */
  readonly source: string;

  /** Build from the problem lines. */
  constructor(source: string, problems: readonly string[]) {
    super(`invalid configuration (${source}):\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.source = source;
    this.problems = problems;
  }
}

type Path = readonly PropertyKey[];

function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out === "" ? "(root)" : out;
}

function valueAt(root: unknown, path: Path): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${JSON.stringify(value)}`;
}

function expectedName(expected: string): string {
  switch (expected) {
    case "object":
      return "a mapping";
    case "array":
      return "a list";
    case "int":
      return "an integer";
    default:
      return `a ${expected}`;
  }
}

/** Turn zod issues into one line each, naming the key. Unions are resolved to the branch the input meant. */
function issueLines(issues: readonly z.core.$ZodIssue[], input: unknown, base: Path = []): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    const at = formatPath(path);
    switch (issue.code) {
      case "invalid_type": {
        const got = valueAt(input, path);
        lines.push(
          got === undefined
            ? `${at}: is required`
            : `${at}: expected ${expectedName(issue.expected)}, got ${describe(got)}`,
        );
        break;
      }
      case "invalid_value":
        lines.push(`${at}: expected one of ${issue.values.map(String).join(", ")}`);
        break;
      case "unrecognized_keys":
        for (const key of issue.keys) lines.push(`${formatPath([...path, key])}: unknown key`);
        break;
      case "too_small":
        if (issue.origin === "string") lines.push(`${at}: must not be empty`);
        else if (issue.origin === "array") lines.push(`${at}: needs at least ${issue.minimum} item(s)`);
        else lines.push(`${at}: must be ${issue.inclusive ? ">=" : ">"} ${issue.minimum}`);
        break;
      case "too_big":
        lines.push(`${at}: must be ${issue.inclusive ? "<=" : "<"} ${issue.maximum}`);
        break;
      case "invalid_union": {
        if (path.length === 1 && path[0] === "database" && issue.errors.length === 2) {
          const value = valueAt(input, path);
          const embedded = value !== null && typeof value === "object" && "embedded" in value;
          const branch = issue.errors[embedded ? 0 : 1];
          for (const sub of branch) {
            if (embedded && sub.code === "unrecognized_keys") {
              for (const key of sub.keys) {
                lines.push(`database.${key}: not allowed together with database.embedded`);
              }
            } else {
              lines.push(...issueLines([sub], input, path));
            }
          }
        } else {
          lines.push(`${at}: ${issue.message}`);
        }
        break;
      }
      default:
        lines.push(`${at}: ${issue.message}`);
    }
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------------
// Interpolation
// ---------------------------------------------------------------------------------------------------------

/** Environment lookup: a plain map or a function. */
export type EnvSource = Record<string, string | undefined> | ((name: string) => string | undefined);

function lookup(env: EnvSource, name: string): string | undefined {
  return typeof env === "function" ? env(name) : env[name];
}

const VAR_RE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}|\$\{[^}]*\}?/g;

function interpolateString(s: string, env: EnvSource, at: string, problems: string[]): string {
  return s.replace(VAR_RE, (match, name: string | undefined, hasDefault: string | undefined, def = "") => {
    if (match === "$${") return "${";
    if (name === undefined) {
      problems.push(
        `${at}: bad variable reference ${JSON.stringify(match)} (use \${NAME} or \${NAME:-default})`,
      );
      return match;
    }
    const value = lookup(env, name);
    if (hasDefault !== undefined) return value === undefined || value === "" ? def : value;
    if (value === undefined) {
      problems.push(
        `${at}: environment variable ${name} is not set (use \${${name}:-default} to allow that)`,
      );
      return "";
    }
    return value;
  });
}

/** Interpolate every string value and drop mapping entries whose value is null (empty = absent). */
function interpolateTree(node: unknown, env: EnvSource, path: PropertyKey[], problems: string[]): unknown {
  if (typeof node === "string") return interpolateString(node, env, formatPath(path), problems);
  if (Array.isArray(node)) return node.map((v, i) => interpolateTree(v, env, [...path, i], problems));
  if (node !== null && typeof node === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (v === null) continue;
      out[k] = interpolateTree(v, env, [...path, k], problems);
    }
    return out;
  }
  return node;
}

// ---------------------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------------------

/** Options for {@link parseConfig} and {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Variables for `${VAR}`; default `Deno.env`. */
  env?: EnvSource;
}

function defaultEnv(): EnvSource {
  return (name) => Deno.env.get(name);
}

/**
 * Parse and validate configuration text. `source` names it in errors (a file path).
 * Throws {@link ConfigError} with one line per problem.
 */
export function parseConfig(text: string, source: string, options: LoadConfigOptions = {}): Config {
  const env = options.env ?? defaultEnv();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // Only the first YAML error: the ones after it are usually consequences of it.
    const e = doc.errors[0];
    const pos = e.linePos?.[0];
    const where = pos ? `${source}:${pos.line}:${pos.col}` : source;
    const message = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    throw new ConfigError(source, [`${where}: YAML error: ${message}`]);
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(source, [`(root): expected a mapping, got ${describe(raw)}`]);
  }
  const problems: string[] = [];
  const tree = interpolateTree(raw, env, [], problems);
  const result = configSchema.safeParse(tree);
  if (!result.success) problems.push(...issueLines(result.error.issues, tree));
  if (problems.length > 0) throw new ConfigError(source, [...new Set(problems)]);
  return result.data!;
}

/**
 * Read `path` and {@link parseConfig} it. A missing or unreadable file throws {@link ConfigError} too.
 */
export async function loadConfig(path: string, options: LoadConfigOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const reason = e instanceof Deno.errors.NotFound ? "file not found" : (e as Error).message;
    throw new ConfigError(path, [`${path}: ${reason}`]);
  }
  return parseConfig(text, path, options);
}

// ---------------------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------------------

function redact(value: string): string {
  return value === "" ? "" : REDACTED;
}

/** Replace the password of a URL (`amqp://user:secret@host/` → `amqp://user:***@host/`). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)([^@]*)(@)/i, (_m, head, pw: string, at) => {
    return `${head}${redact(pw)}${at}`;
  });
}

/**
 * A copy of `config` with every secret replaced by `"***"` (an empty secret stays empty, so an unset one
 * shows as unset): tq.password, tq.account_password, redis.password, database.password, http.token,
 * http.read_token, the password in rabbitmq.url and the sim account passwords.
 */
export function redactConfig(config: Config): Config {
  const c = structuredClone(config);
  c.tq.password = redact(c.tq.password);
  c.tq.account_password = redact(c.tq.account_password);
  c.tq.auth_client_secret = redact(c.tq.auth_client_secret);
  if (c.redis) c.redis.password = redact(c.redis.password);
  if (c.rabbitmq) c.rabbitmq.url = redactUrl(c.rabbitmq.url);
  if (!isEmbeddedDatabase(c.database)) c.database.password = redact(c.database.password);
  c.http.token = redact(c.http.token);
  c.http.read_token = redact(c.http.read_token);
  for (const a of c.sim.accounts) a.password = redact(a.password);
  return c;
}
