/**
 * `GET /openapi.json` (the document of `lib/http/openapi.ts`) and `GET /docs`, a Swagger UI page whose
 * assets (`/docs/swagger-ui.css`, `/docs/swagger-ui-bundle.js`, `/docs/swagger-ui-standalone-preset.js`,
 * `/docs/init.js`) are served by the service itself from the `swagger-ui-dist` npm package: no CDN, so the
 * page works on an offline host. Its "Authorize" button takes the bearer token for "Try it out".
 *
 * Where the assets come from: the package's folder, found with
 * `import.meta.resolve("swagger-ui-dist/package.json")` (the package is kept in the module graph by a
 * JSON import of that file, so `deno compile` embeds it). A `deno bundle` output has no such folder:
 * there `/docs` answers 503 with a message saying so (`/openapi.json` still works).
 *
 * All of these are public (no token): they describe the API and hold no account data.
 *
 * @module
 */
import { Hono } from "hono";
import { fileURLToPath } from "node:url";
import { getLogger } from "../lib/log.ts";

/** The swagger-ui-dist files served under `/docs/`, with their content types. */
export const DOCS_ASSETS: Readonly<Record<string, string>> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

const INIT_JS = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    validatorUrl: null,
  });
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>tqsdk-broker-connect API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

const log = getLogger("http.docs");

/** Where the swagger-ui-dist files are: a folder path, or the reason they cannot be served. */
export async function swaggerAssetsDir(): Promise<{ dir: string } | { error: string }> {
  try {
    // keeps the package in the module graph (deno compile embeds it); cheap
    await import("swagger-ui-dist/package.json", { with: { type: "json" } });
    const url = import.meta.resolve("swagger-ui-dist/package.json");
    if (!url.startsWith("file:")) return { error: `swagger-ui-dist resolves to ${url}, not a file` };
    const dir = fileURLToPath(new URL(".", url));
    await Deno.stat(`${dir}/swagger-ui-bundle.js`);
    return { dir };
  } catch (e) {
    return { error: `swagger-ui-dist assets not found (${(e as Error).message})` };
  }
}

/** Options of {@link docsRoutes}. */
export interface DocsRouteOptions {
  /** The OpenAPI document (built once, on first request). */
  document: () => Record<string, unknown>;
  /** Override the assets folder (tests); default {@link swaggerAssetsDir}. */
  assets?: () => Promise<{ dir: string } | { error: string }>;
}

/** The `/openapi.json` and `/docs` router. */
export function docsRoutes(options: DocsRouteOptions): Hono {
  const app = new Hono();
  let doc: string | null = null;
  let located: Promise<{ dir: string } | { error: string }> | null = null;
  const cache = new Map<string, Uint8Array>();
  const locate = () => located ??= (options.assets ?? swaggerAssetsDir)();
  const unavailable = (error: string) =>
    `API docs page unavailable: ${error}. This build carries no swagger-ui-dist files (deno bundle output); ` +
    "run from source or the compiled binary, or read /openapi.json directly.";

  app.get("/openapi.json", (c) => {
    doc ??= JSON.stringify(options.document());
    return c.body(doc, 200, { "Content-Type": "application/json; charset=utf-8" });
  });

  app.get("/docs", async (c) => {
    const where = await locate();
    if ("error" in where) return c.json({ error: unavailable(where.error) }, 503);
    return c.html(PAGE);
  });
  app.get("/docs/", (c) => c.redirect("/docs", 301));

  app.get("/docs/init.js", (c) => c.body(INIT_JS, 200, { "Content-Type": "text/javascript; charset=utf-8" }));

  app.get("/docs/:file", async (c) => {
    const file = c.req.param("file");
    const type = DOCS_ASSETS[file];
    if (!type) return c.json({ error: "not found", path: c.req.path }, 404);
    const where = await locate();
    if ("error" in where) return c.json({ error: unavailable(where.error) }, 503);
    let bytes = cache.get(file);
    if (!bytes) {
      try {
        bytes = await Deno.readFile(`${where.dir}/${file}`);
      } catch (e) {
        log.warn("docs asset {file} unreadable: {error}", { file, error: (e as Error).message });
        return c.json({ error: unavailable((e as Error).message) }, 503);
      }
      cache.set(file, bytes);
    }
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": type,
      "Cache-Control": "public, max-age=86400",
    });
  });
  return app;
}
