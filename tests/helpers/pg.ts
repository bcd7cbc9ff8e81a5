/**
 * Test helper: a throwaway database on the local PostgreSQL server (127.0.0.1:5432, user postgres, trust
 * auth), created for one test and dropped afterwards whatever happens.
 *
 * @module
 */
import postgres from "postgres";
import type { ServerDatabaseConfig } from "../../lib/store/pg/connect.ts";

/** The local server, as the tests reach it. */
export const LOCAL_PG: ServerDatabaseConfig = {
  host: "127.0.0.1",
  port: 5432,
  user: "postgres",
  dbname: "postgres",
};

/** Create a fresh database `tbc_test_<random>`, run `fn` with its config, then drop it. */
export async function withTestDatabase<T>(fn: (config: ServerDatabaseConfig) => Promise<T>): Promise<T> {
  const name = `tbc_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres({ ...LOCAL_PG, database: "postgres", max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
    try {
      return await fn({ ...LOCAL_PG, dbname: name });
    } finally {
      await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

/** An outage of one test database, made from an admin connection (the shared server keeps running). */
export interface DatabaseOutage {
  /** `true`: connections to the database refused and its sessions ended; `false`: allowed again. */
  set(on: boolean): Promise<void>;
  /** End the admin connection (allows connections again first). */
  close(): Promise<void>;
}

/** Control an outage of the test database `db` (only that database: others on the server are untouched). */
export function databaseOutage(db: ServerDatabaseConfig): DatabaseOutage {
  const admin = postgres({ ...LOCAL_PG, database: "postgres", max: 1, onnotice: () => {} });
  const set = async (on: boolean) => {
    await admin.unsafe(`ALTER DATABASE "${db.dbname}" ALLOW_CONNECTIONS ${on ? "false" : "true"}`);
    if (on) {
      await admin`select pg_terminate_backend(pid) from pg_stat_activity
                  where datname = ${db.dbname ?? ""} and pid <> pg_backend_pid()`;
    }
  };
  return {
    set,
    async close() {
      await set(false).catch(() => {});
      await admin.end();
    },
  };
}
