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
