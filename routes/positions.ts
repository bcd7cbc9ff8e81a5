/**
 * `GET /positions`: the live view's positions, a JSON array sorted by symbol; every symbol seen this
 * session is listed, flat ones with `net: 0`. 503 `{"error": …}` before the broker's first complete
 * snapshot (an empty list would wrongly claim "flat").
 *
 * @module
 */
import { Hono } from "hono";
import type { LiveView } from "../lib/stream/live_view.ts";

/** The `/positions` router. */
export function positionRoutes(view: LiveView): Hono {
  const app = new Hono();
  app.get("/positions", (c) => {
    if (!view.hasSnapshot) return c.json({ error: "no broker snapshot yet" }, 503);
    return c.json(view.positions());
  });
  return app;
}
