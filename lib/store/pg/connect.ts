/**
 * Opens the service's PostgreSQL client (npm `postgres`) from the `database:` config section: a server
 * (`host`, `port`, `user`, `password`, `dbname`) or the embedded database (`embedded: ./data/pg`), which is
 * started first (see `embedded.ts`, loaded with a dynamic `import()` only in that case).
 *
 * Value parsing, decided here once for the whole service:
 * - `numeric` (prices, commissions: `limit_price`, `avg_fill_price`, `price`, `commission`) comes back as a
 *   **decimal string**, exactly as stored (postgres.js default). Parse it where used (`Number(row.price)`);
 *   nothing is rounded on the way out of the database. Writing a JS number into a numeric column is fine.
 * - `int8` (`bigserial` ids such as `order_event.event_id`, `count(*)`) is parsed to a JS **number**; a value
 *   outside the safe-integer range throws instead of silently losing precision.
 * - `integer` is a number, `timestamptz` a `Date`, `text` a string (postgres.js defaults).
 *
 * Every connection starts with `search_path` set to the configured schema, so queries use unqualified
 * table names. Notices (e.g. "already exists, skipping") go to `onNotice`, or are dropped.
 *
 * @module
 */
import postgres from "postgres";
import type { EmbeddedPostgres } from "./embedded.ts";
import { quoteIdentifier } from "./migrate.ts";

/** `database:` section pointing at a PostgreSQL server (contract §1). */
export interface ServerDatabaseConfig {
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  dbname?: string;
}

/** `database:` section selecting the embedded PostgreSQL (PGlite) persisted in a folder. */
export interface EmbeddedDatabaseConfig {
  /** Data folder, e.g. `./data/pg` (resolved against the working directory; created when missing). */
  embedded: string;
}

/** The `database:` config section. */
export type DatabaseConfig = ServerDatabaseConfig | EmbeddedDatabaseConfig;

/** The client type returned by {@link connectDatabase}. */
export type Database = postgres.Sql<{ int8: number }>;

/** Options of {@link connectDatabase}. */
export interface ConnectOptions {
  /** Schema holding the service's tables; set as `search_path`. Default `public`. */
  schema?: string;
  /** Receives server notices; default: dropped. */
  onNotice?: (notice: postgres.Notice) => void;
  /** Pool size; default 10 for a server, 4 for the embedded database (never above its socket limit). */
  max?: number;
  /** Seconds before an idle connection is closed; default 30. */
  idleTimeoutSeconds?: number;
  /** Seconds to wait for a connection; default 10. */
  connectTimeoutSeconds?: number;
  /**
   * Seconds a connection lives before the pool replaces it; `null` = forever (a session holding an advisory
   * lock must not be rotated). Default: the driver's (30–60 minutes).
   */
  maxLifetimeSeconds?: number | null;
  /** `application_name` shown in `pg_stat_activity`; default `tqsdk-broker-connect`. */
  applicationName?: string;
  /**
   * Run `select 1` before returning so a bad config fails here with a clear message; default true. The probe
   * also makes the driver load its array types, which the order store's `sql.array` parameters need: on a
   * client's very first query they would go as plain text (`malformed array literal`, porsager/postgres#789).
   */
  probe?: boolean;
}

/** Options of {@link closeDatabase}. */
export interface CloseOptions {
  /** Seconds to let running queries finish before connections are cut; default 5. */
  timeoutSeconds?: number;
}

const embeddedServers = new WeakMap<Database, EmbeddedPostgres>();

/** Parses `int8` text to a number, refusing values a JS number cannot hold exactly. */
export function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} is outside the safe integer range`);
  return n;
}

/** True when the config selects the embedded database. */
export function isEmbeddedConfig(config: DatabaseConfig): config is EmbeddedDatabaseConfig {
  return typeof (config as EmbeddedDatabaseConfig).embedded === "string";
}

/** A one-line description of the database for logs; never contains the password. */
export function describeDatabase(config: DatabaseConfig, options: { schema?: string } = {}): string {
  const schema = options.schema ?? "public";
  if (isEmbeddedConfig(config)) return `embedded PostgreSQL in ${config.embedded} (schema ${schema})`;
  const c = config;
  return `postgres://${c.user ?? "postgres"}@${c.host ?? "127.0.0.1"}:${c.port ?? 5432}/${
    c.dbname ?? "postgres"
  } (schema ${schema})`;
}

/**
 * Connects to the configured database and returns a `postgres` client with `search_path` set to the schema.
 * For `embedded`, starts the embedded server first; {@link closeDatabase} stops it again.
 */
export async function connectDatabase(
  config: DatabaseConfig,
  options: ConnectOptions = {},
): Promise<Database> {
  const schema = options.schema ?? "public";
  const base = {
    idle_timeout: options.idleTimeoutSeconds ?? 30,
    max_lifetime: options.maxLifetimeSeconds === undefined ? undefined : options.maxLifetimeSeconds,
    connect_timeout: options.connectTimeoutSeconds ?? 10,
    onnotice: options.onNotice ?? (() => {}),
    connection: {
      application_name: options.applicationName ?? "tqsdk-broker-connect",
      search_path: quoteIdentifier(schema),
    },
    types: {
      int8: { to: 20, from: [20], serialize: (v: number) => String(v), parse: parseInt8 },
    },
  };

  let sql: Database;
  let embedded: EmbeddedPostgres | undefined;
  if (isEmbeddedConfig(config)) {
    const { startEmbeddedPostgres } = await import("./embedded.ts");
    embedded = await startEmbeddedPostgres(config.embedded, { schema });
    sql = postgres({
      ...base,
      host: embedded.host,
      port: embedded.port,
      path: embedded.path,
      user: embedded.user,
      database: embedded.database,
      // One backend serves all socket connections: named prepared statements would be shared by them.
      prepare: false,
      max: Math.min(options.max ?? 4, embedded.maxConnections),
    });
    embeddedServers.set(sql, embedded);
  } else {
    sql = postgres({
      ...base,
      host: config.host ?? "127.0.0.1",
      port: config.port ?? 5432,
      user: config.user ?? "postgres",
      password: config.password ?? "",
      database: config.dbname ?? "postgres",
      max: options.max ?? 10,
    });
  }

  if (options.probe ?? true) {
    try {
      await sql`select 1`;
    } catch (err) {
      await closeDatabase(sql, { timeoutSeconds: 0 });
      throw new Error(`database ${describeDatabase(config, { schema })}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return sql;
}

/** Closes the client's connections and, for the embedded database, stops its server (data is kept). */
export async function closeDatabase(sql: Database, options: CloseOptions = {}): Promise<void> {
  try {
    await sql.end({ timeout: options.timeoutSeconds ?? 5 });
  } finally {
    const embedded = embeddedServers.get(sql);
    if (embedded) {
      embeddedServers.delete(sql);
      await embedded.stop();
    }
  }
}
