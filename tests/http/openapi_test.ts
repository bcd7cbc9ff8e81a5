/**
 * `GET /openapi.json` of a running service: a valid OpenAPI 3 document (checked by swagger-parser against
 * the OpenAPI schema), whose operations are exactly the service's routes (static assets aside), whose
 * order body is the request schema of lib/orders/request_schema.ts; `/docs` and its assets are served
 * by the service.
 */
import SwaggerParser from "@apidevtools/swagger-parser";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import { startTestService, testConfig, testNames } from "../helpers/service.ts";
import { documentedRoutes } from "../../lib/http/openapi.ts";
import { insertRequestSchema } from "../../lib/orders/request_schema.ts";

/** Routes that are static assets of a documented page, not API operations. */
const ASSETS = /^\/(docs\/|page\/)/;

Deno.test("openapi: the document validates, and its operations are exactly the service's routes", async () => {
  const names = testNames("oapi");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { rabbitmq: false, redis: false }));
    try {
      const base = service.http!.url;
      const res = await fetch(`${base}/openapi.json`);
      assertEquals(res.status, 200);
      assertMatch(res.headers.get("content-type") ?? "", /application\/json/);
      const doc = await res.json();
      assertEquals(doc.openapi, "3.0.3");
      await SwaggerParser.validate(structuredClone(doc)); // throws on an invalid document

      const served = new Set<string>();
      for (const r of service.app!.routes) {
        if (r.method === "ALL" || ASSETS.test(r.path)) continue;
        served.add(`${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
      }
      const documented = new Set(documentedRoutes(doc).map((r) => `${r.method} ${r.path}`));
      assertEquals([...documented].sort(), [...served].sort());

      // the order body is the request schema itself: same fields, same required ones
      const insert = doc.components.schemas.InsertRequest;
      assertEquals(Object.keys(insert.properties).sort(), Object.keys(insertRequestSchema.shape).sort());
      assertEquals(insert.required.sort(), [
        "direction",
        "offset",
        "order_id",
        "portfolio_id",
        "symbol",
        "volume",
      ]);
      assertEquals(insert.additionalProperties, false);
      assertEquals(insert.properties.volume.minimum, 1);
      assertEquals(doc.components.securitySchemes.bearerAuth, {
        type: "http",
        scheme: "bearer",
        description: doc.components.securitySchemes.bearerAuth.description,
      });
    } finally {
      await service.lifecycle.stop();
    }
  });
});

Deno.test("docs: /docs and its swagger-ui assets come from the service itself", async () => {
  const names = testNames("docs");
  await withTestDatabase(async (db) => {
    const service = await startTestService(testConfig(names, db, { rabbitmq: false, redis: false }));
    try {
      const base = service.http!.url;
      const page = await (await fetch(`${base}/docs`)).text();
      const refs = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
      assert(refs.length >= 4, page);
      for (const ref of refs) {
        assert(ref.startsWith("/docs/"), `${ref} is not served by the service`);
        const r = await fetch(`${base}${ref}`);
        assertEquals(r.status, 200, ref);
        assert((await r.arrayBuffer()).byteLength > 0, ref);
      }
      const missing = await fetch(`${base}/docs/../../deno.json`);
      assert(missing.status === 404, `${missing.status}`);
      await missing.body?.cancel();
    } finally {
      await service.lifecycle.stop();
    }
  });
});
