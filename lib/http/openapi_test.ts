import SwaggerParser from "@apidevtools/swagger-parser";
import { assert, assertEquals } from "../../tests/assert.ts";
import { buildOpenApiDocument, documentedRoutes } from "./openapi.ts";
import { requiredScope } from "./auth.ts";

Deno.test("openapi: the document validates; every operation states its scope and security", async () => {
  const doc = buildOpenApiDocument({ serverUrl: "http://127.0.0.1:8080" });
  await SwaggerParser.validate(structuredClone(doc) as never);
  const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
  for (const r of documentedRoutes(doc)) {
    const op = paths[r.path][r.method];
    const scope = requiredScope(r.method.toUpperCase(), r.path.replace(/\{(\w+)\}/g, ":$1"));
    assertEquals(op["x-required-scope"], scope ?? "none", `${r.method} ${r.path}`);
    assertEquals(op.security, scope === null ? [] : [{ bearerAuth: [] }], `${r.method} ${r.path}`);
    if (scope !== null) assert("401" in (op.responses as object) && "403" in (op.responses as object));
  }
  assertEquals(doc.servers, [{ url: "http://127.0.0.1:8080" }]);
});

Deno.test("openapi: a broken document is refused by the validator (the check can fail)", async () => {
  const doc = buildOpenApiDocument() as { paths: Record<string, Record<string, Record<string, unknown>>> };
  doc.paths["/orders"].post.responses = { 202: { content: {} } }; // a response without description
  let refused = false;
  try {
    await SwaggerParser.validate(doc as never);
  } catch {
    refused = true;
  }
  assert(refused);
});

Deno.test("openapi: the kill-switch body and the /orders parameters are the validating schemas", async () => {
  const { changeSchema, parseKillSwitchChange } = await import("../orders/kill_switch.ts");
  const { listOrdersQuerySchema, getOrderParamsSchema, cancelOrderParamsSchema } = await import(
    "./order_params.ts"
  );
  const doc = buildOpenApiDocument() as {
    paths: Record<string, Record<string, { parameters: { name: string; in: string; schema: never }[] }>>;
    components: { schemas: Record<string, { properties: Record<string, unknown>; required: string[] }> };
  };
  const body = doc.components.schemas.KillSwitchRequest;
  assertEquals(Object.keys(body.properties).sort(), Object.keys(changeSchema.shape).sort());
  assertEquals(body.required.sort(), ["mode", "reason"]);
  // what the document requires is what validation requires
  assert("errors" in parseKillSwitchChange({ mode: "HALT" }, "t"));
  assert("change" in parseKillSwitchChange({ mode: "HALT", reason: "r" }, "t"));

  const list = doc.paths["/orders"].get.parameters;
  assertEquals(
    list.map((p) => [p.name, p.in]),
    Object.keys(listOrdersQuerySchema.shape).map((k) => [k, "query"]),
  );
  const pattern = (method: string) =>
    (doc.paths["/orders/{order_id}"][method].parameters[0].schema as { pattern: string }).pattern;
  for (const id of ["a-1", "a-1~closetoday", "EXT:9", "has space", "x".repeat(129)]) {
    assertEquals(
      new RegExp(pattern("get")).test(id),
      getOrderParamsSchema.safeParse({ order_id: id }).success,
    );
    assertEquals(
      new RegExp(pattern("delete")).test(id),
      cancelOrderParamsSchema.safeParse({ order_id: id }).success,
      id,
    );
  }
});
