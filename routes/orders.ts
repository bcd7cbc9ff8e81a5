/**
 * `POST /orders`, `DELETE /orders/{order_id}`, `GET /orders`, `GET /orders/{order_id}`: the REST side of
 * intake. The body goes through the same schema and the same executor as a RabbitMQ message; the answer
 * comes from `lib/orders/outcomes.ts` (202 / 400 / 404 / 409 / 503). Query strings and path parameters are
 * validated with the schemas of `lib/http/order_params.ts`, which the OpenAPI document is built from.
 *
 * - The request id of the HTTP request (the client's valid `X-Request-ID`, else the generated one: see
 *   `lib/http/middleware.ts`) goes with the order or cancel to the executor, so the `order_event` rows carry
 *   it as `request_id`; an envelope body's own `request_id` is kept when it has one.
 * - Body limit: `maxBodyBytes`, else the limit of the body-limit middleware (`http.max_body_bytes`), else
 *   {@link DEFAULT_MAX_BYTES}; the body is parsed with the same limit.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type { OrderExecutor } from "../lib/orders/executor.ts";
import { httpAnswer } from "../lib/orders/outcomes.ts";
import {
  DEFAULT_MAX_BYTES,
  formatFieldErrors,
  parseOrderRequest,
  zodFieldErrors,
} from "../lib/orders/request_schema.ts";
import type { OrderStore } from "../lib/store/pg/order_store.ts";
import { bodyLimitMiddleware, maxBodyBytesOf, requestIdOf } from "../lib/http/middleware.ts";
import {
  cancelOrderParamsSchema,
  getOrderParamsSchema,
  listOrdersQuerySchema,
} from "../lib/http/order_params.ts";

/** Dependencies of {@link orderRoutes}. */
export interface OrderRouteDeps {
  portfolioId: string;
  executor: OrderExecutor;
  store: OrderStore;
  /** Largest body of `POST /orders`; default: `http.max_body_bytes` from the middleware, else 64 KiB. */
  maxBodyBytes?: number;
}

/** The `/orders` router. */
export function orderRoutes(deps: OrderRouteDeps): Hono {
  const app = new Hono();
  const limitOf = (c: Context) => deps.maxBodyBytes ?? maxBodyBytesOf(c) ?? DEFAULT_MAX_BYTES;
  const requestId = (c: Context) => requestIdOf(c) || null;
  const invalid = (c: Context, errors: ReturnType<typeof zodFieldErrors>) =>
    c.json({ error: formatFieldErrors(errors), errors }, 400);

  app.post("/orders", (c, next) => bodyLimitMiddleware(limitOf(c))(c, next), async (c) => {
    const text = await c.req.text();
    let parsed = parseOrderRequest(text, { portfolioId: deps.portfolioId, maxBytes: limitOf(c) });
    if (parsed.kind === "cancel") {
      return c.json({ error: "$: a cancel goes to DELETE /orders/{order_id}" }, 400);
    }
    if (parsed.kind === "insert" && parsed.request.request_id === null) {
      parsed = { ...parsed, request: { ...parsed.request, request_id: requestId(c) } };
    }
    const answer = httpAnswer(await deps.executor.submit(parsed, "rest"));
    return c.json(answer.body, answer.status);
  });

  app.delete("/orders/:order_id", async (c) => {
    const params = cancelOrderParamsSchema.safeParse({ order_id: c.req.param("order_id") });
    if (!params.success) return invalid(c, zodFieldErrors(params.error));
    const outcome = await deps.executor.cancel({
      order_id: params.data.order_id,
      portfolio_id: deps.portfolioId,
      request_id: requestId(c),
    });
    const answer = httpAnswer(outcome);
    return c.json(answer.body, answer.status);
  });

  app.get("/orders", async (c) => {
    const query = listOrdersQuerySchema.safeParse(c.req.query());
    if (!query.success) return invalid(c, zodFieldErrors(query.error));
    try {
      const orders = await deps.store.listOrders({
        status: query.data.status,
        symbol: query.data.symbol || undefined,
        limit: query.data.limit,
      });
      return c.json({ orders });
    } catch (e) {
      return c.json({ error: `database: ${(e as Error).message}` }, 503);
    }
  });

  app.get("/orders/:order_id", async (c) => {
    const params = getOrderParamsSchema.safeParse({ order_id: c.req.param("order_id") });
    if (!params.success) return invalid(c, zodFieldErrors(params.error));
    const orderId = params.data.order_id;
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
