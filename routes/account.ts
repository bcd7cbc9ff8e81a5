/**
 * `GET /account`: the live view's account (`AccountView`, CNY). 503 `{"error": …}` before the broker's
 * first complete snapshot.
 *
 * @module
 */
import { Hono } from "hono";
import type { LiveView } from "../lib/stream/live_view.ts";

/** The `/account` router. */
export function accountRoutes(view: LiveView): Hono {
  const app = new Hono();
  app.get("/account", (c) => {
    const account = view.account();
    if (!view.hasSnapshot || account === null) return c.json({ error: "no broker snapshot yet" }, 503);
    return c.json(account);
  });
  return app;
}
