import { assert, assertEquals, assertMatch } from "../tests/assert.ts";
import { docsRoutes, swaggerAssetsDir } from "./docs.ts";

Deno.test("docs: without the swagger-ui-dist folder (bundle) /docs answers 503 with the reason", async () => {
  const app = docsRoutes({
    document: () => ({ openapi: "3.0.3" }),
    assets: () => Promise.resolve({ error: "no files" }),
  });
  const res = await app.request("/docs");
  assertEquals(res.status, 503);
  assertMatch((await res.json()).error, /no files.*bundle/);
  assertEquals((await app.request("/openapi.json")).status, 200);
});

Deno.test("docs: assets are found in the swagger-ui-dist package; only listed files are served", async () => {
  const where = await swaggerAssetsDir();
  assert("dir" in where, JSON.stringify(where));
  const app = docsRoutes({ document: () => ({ openapi: "3.0.3" }) });
  const css = await app.request("/docs/swagger-ui.css");
  assertEquals([css.status, css.headers.get("content-type")], [200, "text/css; charset=utf-8"]);
  assertEquals((await app.request("/docs/package.json")).status, 404);
  assertEquals((await app.request("/docs/index.html")).status, 404);
});
