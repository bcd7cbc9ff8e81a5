/**
 * Applies the embedded {@link MIGRATIONS} to a PostgreSQL database, in a configured schema.
 *
 * - Each migration runs in its own transaction (read committed) together with the row that records it in
 *   `<schema>.schema_migrations` (version, name, checksum, applied_at): it is applied entirely or not at all.
 * - Every transaction first takes a transaction-scoped advisory lock derived from the schema name, so two
 *   instances migrating at once are serialised: the second waits, then sees the version recorded and skips
 *   it. Re-running is a no-op.
 * - The schema is created when missing. Identifiers are quoted, so any schema name works.
 * - An applied migration whose SQL text no longer matches its recorded checksum stops `migrate` with an
 *   error: released migrations must never be edited.
 *
 * @module
 */
import type postgres from "postgres";
import { type Migration, MIGRATIONS } from "./migrations.ts";

/** Any `postgres` client (whatever its custom types). */
// deno-lint-ignore no-explicit-any
export type AnySql = postgres.Sql<any>;

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** Schema to migrate (created when missing). Default `public`. */
  schema?: string;
  /** The migrations to apply; default {@link MIGRATIONS}. For tests. */
  migrations?: readonly Migration[];
}

/** One row of `schema_migrations`. */
export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
  applied_at: Date;
}

/** Name of the table that records applied migrations. */
export const MIGRATIONS_TABLE = "schema_migrations";

/**
 * Quotes a PostgreSQL identifier (`my "x"` → `"my ""x"""`) after checking it is a usable name: non-empty,
 * at most 63 bytes, no NUL.
 */
export function quoteIdentifier(name: string): string {
  checkIdentifier(name);
  return `"${name.replaceAll('"', '""')}"`;
}

/** Throws a `TypeError` naming the problem when `name` cannot be a PostgreSQL identifier. */
export function checkIdentifier(name: string): void {
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError("database schema: expected a non-empty name");
  }
  if (name.includes("\0")) throw new TypeError("database schema: NUL character not allowed");
  if (new TextEncoder().encode(name).length > 63) {
    throw new TypeError(`database schema: name longer than 63 bytes: ${name}`);
  }
}

/** Hex SHA-256 of a migration's SQL, as recorded in `schema_migrations.checksum`. */
export async function migrationChecksum(sqlText: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(sqlText));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The advisory-lock key (a signed 64-bit integer, as a decimal string) guarding migrations of `schema`. */
export async function migrationLockKey(schema: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(`tqsdk-broker-connect:migrate:${schema}`),
  );
  return new DataView(digest).getBigInt64(0).toString();
}

function checkMigrationList(migrations: readonly Migration[]): void {
  let previous = 0;
  for (const m of migrations) {
    if (!Number.isSafeInteger(m.version) || m.version <= previous) {
      throw new Error(`migrations: version ${m.version} must be an integer above ${previous}`);
    }
    previous = m.version;
  }
}

/**
 * Brings `schema` up to the latest migration. Returns the versions this call applied, in order (empty when
 * the database was already up to date, or when another instance applied them first).
 */
export async function migrate(sql: AnySql, options: MigrateOptions = {}): Promise<number[]> {
  const schema = options.schema ?? "public";
  const migrations = options.migrations ?? MIGRATIONS;
  checkMigrationList(migrations);
  const quotedSchema = quoteIdentifier(schema);
  const table = `${quotedSchema}.${quoteIdentifier(MIGRATIONS_TABLE)}`;
  const lockKey = await migrationLockKey(schema);
  const checksums = new Map<number, string>();
  for (const m of migrations) checksums.set(m.version, await migrationChecksum(m.sql));

  // Bootstrap: schema and bookkeeping table, under the lock (CREATE ... IF NOT EXISTS alone races).
  await sql.begin("isolation level read committed", async (tx) => {
    await tx`select pg_advisory_xact_lock(${lockKey}::bigint)`;
    const [ns] = await tx`select exists (select 1 from pg_namespace where nspname = ${schema}) as present`;
    if (!ns.present) await tx.unsafe(`CREATE SCHEMA ${quotedSchema}`);
    const [tbl] = await tx`select to_regclass(${table}) is not null as present`;
    if (!tbl.present) {
      await tx.unsafe(
        `CREATE TABLE ${table} (
           version    integer     PRIMARY KEY,
           name       text        NOT NULL,
           checksum   text        NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
    }
  });

  const applied: number[] = [];
  for (const m of migrations) {
    const checksum = checksums.get(m.version)!;
    const didApply = await sql.begin("isolation level read committed", async (tx) => {
      await tx`select pg_advisory_xact_lock(${lockKey}::bigint)`;
      // Read after the lock: in read committed each statement sees what committed before it started.
      const rows = await tx.unsafe<{ version: number; checksum: string }[]>(
        `select version, checksum from ${table} order by version`,
      );
      for (const row of rows) {
        const known = checksums.get(row.version);
        if (known !== undefined && known !== row.checksum) {
          throw new Error(
            `migration ${row.version} was applied with different SQL (checksum ${row.checksum}, ` +
              `this build has ${known}); released migrations must not be edited`,
          );
        }
      }
      if (rows.some((row) => row.version === m.version)) return false;
      await tx.unsafe(`SET LOCAL search_path TO ${quotedSchema}`);
      await tx.unsafe(m.sql);
      await tx.unsafe(`insert into ${table} (version, name, checksum) values ($1, $2, $3)`, [
        m.version,
        m.name,
        checksum,
      ]);
      return true;
    });
    if (didApply) applied.push(m.version);
  }
  return applied;
}

/**
 * The migrations recorded in `schema`, oldest first; empty when the schema or its `schema_migrations` table
 * does not exist yet.
 */
export async function appliedMigrations(
  sql: AnySql,
  options: { schema?: string } = {},
): Promise<AppliedMigration[]> {
  const schema = options.schema ?? "public";
  const table = `${quoteIdentifier(schema)}.${quoteIdentifier(MIGRATIONS_TABLE)}`;
  const [tbl] = await sql`select to_regclass(${table}) is not null as present`;
  if (!tbl.present) return [];
  const rows = await sql.unsafe<AppliedMigration[]>(
    `select version, name, checksum, applied_at from ${table} order by version`,
  );
  return rows.map((r) => ({
    version: r.version,
    name: r.name,
    checksum: r.checksum,
    applied_at: r.applied_at,
  }));
}
