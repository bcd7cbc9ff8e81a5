/**
 * `POST /orders`, `DELETE /orders/{order_id}`, `GET /orders`, `GET /orders/{order_id}`: the REST side of
 * intake. The body goes through the same schema and the same executor as a RabbitMQ message; the answer
 * comes from `lib/orders/outcomes.ts` (202 / 400 / 404 / 409 / 503).
 *
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { OrderExecutor } from "../lib/orders/executor.ts";
import { httpAnswer } from "../lib/orders/outcomes.ts";
import { DEFAULT_MAX_BYTES, ORDER_ID_RE, parseOrderRequest } from "../lib/orders/request_schema.ts";
import type { OrderStore } from "../lib/store/pg/order_store.ts";
import { ORDER_STATUSES } from "../lib/store/pg/migrations.ts";
import type { OrderStatus } from "../lib/orders/types.ts";

/**
 * Ids an order may have in `order_history`: a client id, a split child (`<id>~closetoday`) or an external
 * order's broker id. Printable ASCII without spaces, 1–128 chars.
 */
const RECORDED_ID_RE = /^[\x21-\x7E]{1,128}$/;

/** Dependencies of {@link orderRoutes}. */
export interface OrderRouteDeps {
  portfolioId: string;
  executor: OrderExecutor;
  store: OrderStore;
}

/** The `/orders` router. */
export function orderRoutes(deps: OrderRouteDeps): Hono {
  const app = new Hono();
  const limit = bodyLimit({
    maxSize: DEFAULT_MAX_BYTES,
    onError: (c) => c.json({ error: `$: body exceeds ${DEFAULT_MAX_BYTES} bytes` }, 413),
  });

  app.post("/orders", limit, async (c) => {
    const text = await c.req.text();
    const parsed = parseOrderRequest(text, { portfolioId: deps.portfolioId });
    if (parsed.kind === "cancel") {
      return c.json({ error: "$: a cancel goes to DELETE /orders/{order_id}" }, 400);
    }
    const answer = httpAnswer(await deps.executor.submit(parsed, "rest"));
    return c.json(answer.body, answer.status);
  });

  app.delete("/orders/:order_id", async (c) => {
    const orderId = c.req.param("order_id");
    if (!ORDER_ID_RE.test(orderId)) {
      return c.json({ error: "order_id: 1–64 chars of [A-Za-z0-9_.:-]" }, 400);
    }
    const outcome = await deps.executor.cancel({
      order_id: orderId,
      portfolio_id: deps.portfolioId,
      request_id: c.req.header("x-request-id") ?? null,
    });
    const answer = httpAnswer(outcome);
    return c.json(answer.body, answer.status);
  });

  app.get("/orders", async (c) => {
    const status = c.req.query("status");
    const symbol = c.req.query("symbol");
    const limitText = c.req.query("limit");
    if (status !== undefined && !(ORDER_STATUSES as readonly string[]).includes(status)) {
      return c.json({ error: `status: expected one of ${ORDER_STATUSES.join(", ")}` }, 400);
    }
    const limitValue = limitText === undefined ? undefined : Number(limitText);
    if (
      limitValue !== undefined && !(Number.isInteger(limitValue) && limitValue >= 1 && limitValue <= 1000)
    ) {
      return c.json({ error: "limit: expected an integer 1..1000" }, 400);
    }
    try {
      const orders = await deps.store.listOrders({
        status: status as OrderStatus | undefined,
        symbol: symbol || undefined,
        limit: limitValue,
      });
      return c.json({ orders });
    } catch (e) {
      return c.json({ error: `database: ${(e as Error).message}` }, 503);
    }
  });

  app.get("/orders/:order_id", async (c) => {
    const orderId = c.req.param("order_id");
    if (!RECORDED_ID_RE.test(orderId)) {
      return c.json({ error: "order_id: 1–128 printable characters" }, 400);
    }
    try {
      const found = await deps.store.getOrder(orderId);
      if (!found) return c.json({ error: `no order ${orderId}` }, 404);
      const trades = await deps.store.tradesOf(orderId);
      return c.json({ order: found.record, events: found.events, trades });
    } catch (e) {
      return c.json({ error: `database: ${(e as Error).message}` }, 503);
    }
  });
  return app;
}
