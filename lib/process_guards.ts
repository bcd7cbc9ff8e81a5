/**
 * Process-level guards for known, harmless library faults that would otherwise end the process.
 *
 * npm `postgres` 3.4.9 can throw `TypeError: Cannot read properties of null (reading 'write')` from a
 * `setImmediate` callback when a server-side close races a queued write (porsager/postgres#1066, #1154,
 * #1208; denoland/deno#34667). By then the library has already rejected the affected query with
 * `CONNECTION_CLOSED`, so the stray error carries no lost work — but as an uncaught exception it would end
 * a trading service in the middle of a database restart. {@linkcode installProcessGuards} recognises exactly
 * that error (message and the library's frame in its stack), logs it as a warning and keeps the process
 * alive. Every other uncaught error still ends the process as before.
 *
 * @module
 */

import { getLogger } from "./log.ts";

/** True for the postgres.js null-socket write race, and nothing else. */
export function isPostgresNullSocketWrite(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  const stack = error.stack ?? "";
  return /Cannot read properties of null \(reading 'write'\)/.test(error.message) &&
    /postgres[@/].*connection\.js/.test(stack) && /nextWrite/.test(stack);
}

/** Install the guards; returns the function that removes them. */
export function installProcessGuards(): () => void {
  const log = getLogger("process");
  const onError = (event: ErrorEvent) => {
    if (isPostgresNullSocketWrite(event.error)) {
      event.preventDefault();
      log.warn("ignored a postgres.js write on a closed connection (its query already failed): {error}", {
        error: (event.error as Error).message,
      });
    }
  };
  globalThis.addEventListener("error", onError);
  return () => globalThis.removeEventListener("error", onError);
}
