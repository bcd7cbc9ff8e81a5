import { assert, assertEquals } from "../tests/assert.ts";
import { installProcessGuards, isPostgresNullSocketWrite } from "./process_guards.ts";

function libraryError(): TypeError {
  const e = new TypeError("Cannot read properties of null (reading 'write')");
  e.stack = `TypeError: Cannot read properties of null (reading 'write')
    at nextWrite (file:///x/node_modules/.deno/postgres@3.4.9/node_modules/postgres/src/connection.js:255:22)
    at Immediate.callback (ext:deno_node/internal/timers.mjs:385:16)`;
  return e;
}

Deno.test("process guard recognises only the postgres.js null-socket write", () => {
  assert(isPostgresNullSocketWrite(libraryError()));
  assert(!isPostgresNullSocketWrite(new TypeError("Cannot read properties of null (reading 'write')")));
  assert(!isPostgresNullSocketWrite(new Error("boom")));
  const other = new TypeError("x is undefined");
  other.stack = libraryError().stack;
  assert(!isPostgresNullSocketWrite(other));
});

Deno.test("process guard prevents exactly that uncaught error from ending the process", () => {
  const remove = installProcessGuards();
  try {
    const known = new ErrorEvent("error", { error: libraryError(), cancelable: true });
    globalThis.dispatchEvent(known);
    assertEquals(known.defaultPrevented, true);
    const unknown = new ErrorEvent("error", { error: new Error("real bug"), cancelable: true });
    globalThis.dispatchEvent(unknown);
    assertEquals(unknown.defaultPrevented, false);
  } finally {
    remove();
  }
});
