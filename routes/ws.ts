/**
 * `GET /ws`: WebSocket stream of the live view through the hub: first a `snapshot` message, then
 * `position` / `order` / `account` / `status` messages as they change (see `lib/stream/hub.ts` for the
 * messages and for what happens to a client that cannot keep up). Messages from the client are ignored.
 * A plain GET (no upgrade) answers 426 `{"error": …}`.
 *
 * The answer's `Sec-WebSocket-Protocol` is `tbc.bearer` when the client offered it, else absent: never
 * the client's first offer (Hono's helper would echo that one, and a client listing
 * `tbc.token.<base64url(token)>` first would get its token back in the response headers).
 *
 * @module
 */
import { Hono } from "hono";
import type { WSContext } from "hono/ws";
import { upgradeWebSocket } from "hono/deno";
import type { StreamHub, Subscription } from "../lib/stream/hub.ts";
import { selectWsProtocol } from "../lib/http/auth.ts";

/** The `/ws` router. */
export function wsRoutes(hub: StreamHub): Hono {
  const app = new Hono();
  const events = () => {
    let sub: Subscription | null = null;
    const stop = () => {
      sub?.unsubscribe();
      sub = null;
    };
    return {
      onOpen: (_event: Event, ws: WSContext) => {
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
  };
  app.get(
    "/ws",
    (c, next) => {
      // the server chooses the subprotocol (explicitly none when `tbc.bearer` was not offered)
      const protocol = selectWsProtocol(c.req.header("sec-websocket-protocol"));
      return upgradeWebSocket(events, { protocol })(c, next);
    },
    (c) => c.json({ error: "expected a WebSocket upgrade" }, 426),
  );
  return app;
}
