/**
 * `GET /`: the live page (HTML, CSS and JS embedded in `lib/http/page/`, no build step, no CDN), its
 * assets under `/page/`, and `GET /intraday`, the series of its chart. The page shell and assets are
 * public (they hold no account data); `/intraday` needs the `read` scope like every data route.
 *
 * @module
 */
import { Hono } from "hono";
import { PAGE_CSS } from "../lib/http/page/style_css.ts";
import { PAGE_JS } from "../lib/http/page/app_js.ts";
import { pageHtml } from "../lib/http/page/page_html.ts";
import type { IntradaySeries } from "../lib/http/page/intraday.ts";

/** Content-Security-Policy of the page: everything from this origin, nothing else. */
export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
  "connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Dependencies of {@link pageRoutes}. */
export interface PageRouteDeps {
  portfolioId: string;
  series: IntradaySeries;
}

/** The `/` page router. */
export function pageRoutes(deps: PageRouteDeps): Hono {
  const app = new Hono();
  const html = pageHtml({ portfolioId: deps.portfolioId });
  const secure = { "Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff" };
  app.get("/", (c) => c.body(html, 200, { ...secure, "Content-Type": "text/html; charset=utf-8" }));
  app.get(
    "/page/app.js",
    (c) => c.body(PAGE_JS, 200, { ...secure, "Content-Type": "text/javascript; charset=utf-8" }),
  );
  app.get(
    "/page/app.css",
    (c) => c.body(PAGE_CSS, 200, { ...secure, "Content-Type": "text/css; charset=utf-8" }),
  );
  app.get("/intraday", (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(deps.series.snapshot());
  });
  return app;
}
