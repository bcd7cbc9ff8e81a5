/**
 * The embedded database: PGlite (PostgreSQL compiled to WASM) persisted in a folder and served over a local
 * socket by pglite-socket, so the rest of the service talks to it with npm `postgres` exactly as to a real
 * server.
 *
 * This module imports PGlite, which cannot be bundled (it loads its `.wasm`/`.data` files relative to its own
 * module). Import it only with a dynamic `import()` when the embedded database is configured
 * (`connect.ts` does), so a bundle of the rest still runs.
 *
 * Facts and limits (stack-notes.md): PostgreSQL 18 in WASM; first start of a new folder takes ~3 s and
 * ~700 MiB RSS (reopen ~0.5 s, ~320 MiB); one backend serves every socket connection (queries are queued;
 * while one connection is inside a transaction the others wait), so session state (`SET`, prepared
 * statements, session advisory locks) is shared by all connections: clients should use `prepare: false`
 * and transaction-scoped settings; LISTEN/NOTIFY does not pass through the socket. Only one process may open
 * a folder at a time; this module refuses a second open of the same folder within one process.
 *
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { resolve } from "node:path";
import { quoteIdentifier } from "./migrate.ts";

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Loopback address to listen on; default `127.0.0.1`. Ignored when `path` is given. */
  host?: string;
  /** TCP port; default 0 (an ephemeral port, reported in the result). Ignored when `path` is given. */
  port?: number;
  /** Unix socket path to listen on instead of TCP. */
  path?: string;
  /** Socket connections accepted at once (all share PGlite's single backend); default 8. */
  maxConnections?: number;
  /**
   * Schema to put first on the backend's `search_path` (PGlite ignores the `search_path` startup parameter
   * a client sends, and its single backend is shared by every connection, so it is set once here).
   */
  schema?: string;
}

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  /** Absolute path of the data folder. */
  readonly dataDir: string;
  /** TCP host, when listening on TCP. */
  readonly host?: string;
  /** TCP port actually bound, when listening on TCP. */
  readonly port?: number;
  /** Unix socket path, when listening on a unix socket. */
  readonly path?: string;
  /** Socket connections accepted at once; a client pool must not exceed it. */
  readonly maxConnections: number;
  /** User and database to connect as (PGlite has one superuser and ignores the password). */
  readonly user: string;
  /** Database name to connect to. */
  readonly database: string;
  /** Stops the socket server, then closes PGlite so its data is flushed to the folder. Idempotent. */
  stop(): Promise<void>;
}

const openDirs = new Set<string>();

/**
 * Opens (creating when missing) the PGlite database in `dir` and serves it on a loopback TCP port (default:
 * an ephemeral one) or a unix socket. Call `stop()` to close it cleanly; starting again on the same folder
 * reopens the same data.
 */
export async function startEmbeddedPostgres(
  dir: string,
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  if (!dir) throw new TypeError("database.embedded: expected a folder path");
  const dataDir = resolve(dir);
  if (openDirs.has(dataDir)) {
    throw new Error(`database.embedded: ${dataDir} is already open in this process`);
  }
  const maxConnections = options.maxConnections ?? 8;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new TypeError(
      `embedded database: maxConnections must be a positive integer, got ${maxConnections}`,
    );
  }
  openDirs.add(dataDir);
  let db: PGlite | undefined;
  try {
    await Deno.mkdir(dataDir, { recursive: true });
    db = await PGlite.create({ dataDir });
    if (options.schema !== undefined) await db.exec(`SET search_path TO ${quoteIdentifier(options.schema)}`);
    const server = options.path !== undefined
      ? new PGLiteSocketServer({ db, path: options.path, maxConnections })
      : new PGLiteSocketServer({
        db,
        host: options.host ?? "127.0.0.1",
        port: options.port ?? 0,
        maxConnections,
      });
    await server.start();
    const pglite = db;
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        try {
          await server.stop();
        } finally {
          try {
            await pglite.close();
          } finally {
            openDirs.delete(dataDir);
          }
        }
      })();
      return stopping;
    };
    const common = { dataDir, maxConnections, user: "postgres", database: "postgres", stop };
    if (options.path !== undefined) return { ...common, path: options.path };
    const conn = server.getServerConn();
    const colon = conn.lastIndexOf(":");
    return { ...common, host: conn.slice(0, colon), port: Number(conn.slice(colon + 1)) };
  } catch (err) {
    try {
      if (db && !db.closed) await db.close();
    } finally {
      openDirs.delete(dataDir);
    }
    throw new Error(`embedded database in ${dataDir} failed to start: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
