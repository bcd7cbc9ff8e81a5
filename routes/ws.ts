/**
 * `GET /ws`: WebSocket stream of the live view through the hub: first a `snapshot` message, then
 * `position` / `order` / `account` / `status` messages as they change (see `lib/stream/hub.ts` for the
 * messages and for what happens to a client that cannot keep up). Messages from the client are ignored.
 * A plain GET (no upgrade) answers 426 `{"error": …}`.
 *
 * @module
 */
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import type { StreamHub, Subscription } from "../lib/stream/hub.ts";

/** The `/ws` router. */
export function wsRoutes(hub: StreamHub): Hono {
  const app = new Hono();
  app.get(
    "/ws",
    upgradeWebSocket(() => {
      let sub: Subscription | null = null;
      const stop = () => {
        sub?.unsubscribe();
        sub = null;
      };
      return {
        onOpen: (_event, ws) => {
          const socket = ws.raw as WebSocket;
          try {
            sub = hub.subscribe((data) => ws.send(data), {
              backlog: () => socket.bufferedAmount,
              close: (code, reason) => ws.close(code, reason),
            });
          } catch {
            ws.close(1001, "server shutting down"); // the hub is closed
          }
        },
        onClose: stop,
        onError: stop,
      };
    }),
    (c) => c.json({ error: "expected a WebSocket upgrade" }, 426),
  );
  return app;
}
