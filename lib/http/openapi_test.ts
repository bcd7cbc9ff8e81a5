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
