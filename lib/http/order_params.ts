/**
 * The zod schemas of the `/orders` query string and path parameters: `routes/orders.ts` validates with
 * them and `lib/http/openapi.ts` documents them, so the document cannot drift from what is accepted.
 *
 * - `GET /orders?status=&symbol=&limit=`: `status` one of the order statuses, `symbol` any text (empty =
 *   every symbol), `limit` an integer 1..1000; other query parameters are ignored.
 * - `DELETE /orders/{order_id}` takes a client order id ({@link ORDER_ID_RE}: 1–64 of `[A-Za-z0-9_.:-]`);
 *   `GET /orders/{order_id}` also any id recorded in `order_history`: a split child
 *   (`<id>~closetoday`) or an external order's broker id (1–128 printable ASCII without spaces).
 *
 * @module
 */
import { z } from "zod";
import { ORDER_ID_RE } from "../orders/request_schema.ts";
import { ORDER_STATUSES } from "../store/pg/migrations.ts";

/** Ids an order may have in `order_history` (client id, split child, external broker id). */
export const RECORDED_ID_RE: RegExp = /^[\x21-\x7E]{1,128}$/;

const LIMIT_MESSAGE = "expected an integer 1..1000";

/** The query string of `GET /orders`. */
export const listOrdersQuerySchema = z.object({
  status: z.enum(ORDER_STATUSES, { error: `expected one of ${ORDER_STATUSES.join(", ")}` }).optional()
    .describe("only orders in this status"),
  symbol: z.string().optional().describe("only orders of this symbol (empty: every symbol)"),
  limit: z.coerce.number({ error: LIMIT_MESSAGE }).int(LIMIT_MESSAGE).min(1, LIMIT_MESSAGE).max(
    1000,
    LIMIT_MESSAGE,
  ).optional().describe("at most this many, newest first (default 100)"),
});

/** The path parameter of `DELETE /orders/{order_id}`: a client order id. */
export const cancelOrderParamsSchema = z.object({
  order_id: z.string().regex(ORDER_ID_RE, "1–64 chars of [A-Za-z0-9_.:-]").describe(
    "the client's order_id",
  ),
});

/** The path parameter of `GET /orders/{order_id}`: any recorded id. */
export const getOrderParamsSchema = z.object({
  order_id: z.string().regex(RECORDED_ID_RE, "expected 1–128 printable ASCII characters without spaces")
    .describe("the client's order_id, a split child (`<order_id>~closetoday`) or an external order's id"),
});
