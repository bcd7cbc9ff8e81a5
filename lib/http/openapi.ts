/**
 * The OpenAPI 3.0 document of the HTTP API (`GET /openapi.json`), generated with `@hono/zod-openapi` from
 * the same zod schemas that validate requests: the order request bodies come from
 * `lib/orders/request_schema.ts` as they are (registered as components, never redefined here), the
 * kill-switch body from `lib/orders/kill_switch.ts` (`changeSchema`), the `/orders` query string and path
 * parameters from `lib/http/order_params.ts`. The response shapes below are documentation only (the routes
 * build their answers from typed records).
 *
 * Every operation carries `x-required-scope` (`read`, `trade`, or `none` for public routes) and the
 * matching `security` entry, so the document also states the authentication rules of `lib/http/auth.ts`;
 * `tests/http/openapi_test.ts` checks both against the running service.
 *
 * @module
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { cancelRequestSchema, envelopeSchema, insertRequestSchema } from "../orders/request_schema.ts";
import { changeSchema } from "../orders/kill_switch.ts";
import { KILL_SWITCH_MODES, ORDER_STATUSES } from "../store/pg/migrations.ts";
import { cancelOrderParamsSchema, getOrderParamsSchema, listOrdersQuerySchema } from "./order_params.ts";
import { NAME, VERSION } from "../version.ts";
import { requiredScope } from "./auth.ts";

/** One documented operation (used by tests to compare with the router). */
export interface DocumentedRoute {
  method: "get" | "post" | "put" | "delete";
  /** OpenAPI form: `/orders/{order_id}`. */
  path: string;
}

const ErrorBody = z.object({
  error: z.string(),
  message: z.string().optional(),
}).passthrough();

const OrderRecord = z.object({
  portfolio_id: z.string(),
  id: z.string().describe("the client's order_id"),
  status: z.enum(ORDER_STATUSES as unknown as [string, ...string[]]),
  symbol: z.string().nullable(),
  direction: z.enum(["BUY", "SELL"]).nullable(),
  offset: z.enum(["OPEN", "CLOSE", "CLOSETODAY"]).nullable(),
  volume: z.number().int().nullable(),
  limit_price: z.number().nullable(),
  price_type: z.string().nullable(),
  time_condition: z.string().nullable(),
  volume_condition: z.string().nullable(),
  filled_quantity: z.number().int(),
  volume_left: z.number().int().nullable(),
  avg_fill_price: z.number().nullable(),
  exchange_order_id: z.string().nullable(),
  broker_order_id: z.string().nullable(),
  last_msg: z.string().nullable(),
  reject_reason: z.string().nullable(),
  source: z.string(),
  request_hash: z.string().nullable(),
  parent_id: z.string().nullable(),
  trading_day: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});

const OrderEvent = z.object({
  portfolio_id: z.string(),
  id: z.string(),
  seq: z.number().int(),
  status: z.string(),
  msg: z.record(z.string(), z.unknown()).nullable(),
  created_at: z.string(),
});

const Position = z.object({
  symbol: z.string(),
  long: z.number(),
  short: z.number(),
  net: z.number().describe("long − short: the value of the seed Redis key"),
  long_today: z.number(),
  long_his: z.number(),
  short_today: z.number(),
  short_his: z.number(),
  open_price_long: z.number().nullable(),
  open_price_short: z.number().nullable(),
  last_price: z.number().nullable(),
  float_profit: z.number(),
  position_profit: z.number(),
  margin: z.number(),
}).passthrough();

const Account = z.object({
  balance: z.number(),
  available: z.number(),
  margin: z.number(),
  frozen_margin: z.number(),
  risk_ratio: z.number(),
  position_profit: z.number(),
  float_profit: z.number(),
  close_profit: z.number(),
  commission: z.number(),
  static_balance: z.number(),
  pre_balance: z.number(),
});

const Health = z.object({
  status: z.enum(["ok", "degraded"]),
  can_trade: z.boolean(),
  market: z.enum(["open", "closed", "unknown"]).optional(),
  components: z.record(z.string(), z.unknown()),
});

const KillSwitchEntry = z.object({
  symbol: z.string().describe('"" = the whole portfolio'),
  mode: z.enum(KILL_SWITCH_MODES),
  reason: z.string(),
  set_by: z.string(),
  updated_at: z.string(),
});

const KillSwitchState = z.object({
  portfolio: KillSwitchEntry,
  symbols: z.array(KillSwitchEntry),
  effective: z.object({ symbol: z.string(), mode: z.enum(KILL_SWITCH_MODES), scope: z.string() }).optional(),
  history: z.array(z.record(z.string(), z.unknown())).optional(),
});

/**
 * `schema` with an OpenAPI component name, without touching `schema` itself (its validation is unchanged).
 * The request schemas are created before `@hono/zod-openapi` extends zod, so they may lack `.openapi()`:
 * the extension's method is then applied from the prototype, which returns a named copy.
 */
function named<T extends z.ZodType>(schema: T, refId: string): T {
  const own = (schema as unknown as { openapi?: unknown }).openapi;
  const method = typeof own === "function"
    ? own
    : (z.ZodType.prototype as unknown as { openapi: unknown }).openapi;
  if (typeof method !== "function") throw new Error("zod is not extended with .openapi()");
  return (method as (this: T, refId: string) => T).call(schema, refId);
}

const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const errors = {
  401: json(ErrorBody, "no or bad bearer token"),
  403: json(ErrorBody, "the token lacks the scope"),
};

/** Build the OpenAPI document (3.0.3). `serverUrl` goes into `servers` when given. */
export function buildOpenApiDocument(options: { serverUrl?: string } = {}): Record<string, unknown> {
  const app = new OpenAPIHono();
  const reg = app.openAPIRegistry;
  reg.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "`http.token` (scopes read + trade) or `http.read_token` (read). Browsers' WebSocket " +
      "offers the subprotocols `tbc.bearer` and `tbc.token.<base64url(token)>` instead.",
  });
  const insert = named(insertRequestSchema, "InsertRequest");
  const envelope = named(envelopeSchema, "EnvelopeRequest");
  reg.register("CancelRequest", named(cancelRequestSchema, "CancelRequest"));
  const record = reg.register("OrderRecord", OrderRecord);
  const event = reg.register("OrderEvent", OrderEvent);
  const position = reg.register("Position", Position);
  const account = reg.register("Account", Account);
  const health = reg.register("Health", Health);
  const kill = reg.register("KillSwitchState", KillSwitchState);
  const killBody = named(changeSchema, "KillSwitchRequest");
  const error = reg.register("Error", ErrorBody);

  const op = (
    method: DocumentedRoute["method"],
    path: string,
    spec: {
      summary: string;
      description?: string;
      tags: string[];
      request?: Record<string, unknown>;
      responses: Record<string, unknown>;
    },
  ) => {
    const honoPath = path.replace(/\{([^}]+)\}/g, ":$1");
    const scope = requiredScope(method.toUpperCase(), honoPath);
    const secured = scope !== null;
    reg.registerPath(
      {
        method,
        path,
        ...spec,
        "x-required-scope": scope ?? "none",
        security: secured ? [{ bearerAuth: [] }] : [],
        responses: secured ? { ...spec.responses, ...errors } : spec.responses,
      } as Parameters<typeof reg.registerPath>[0],
    );
  };

  op("get", "/health", {
    summary: "Health: 200 ok/degraded, 503 when the service cannot trade",
    tags: ["ops"],
    responses: {
      200: json(health, "can trade (status ok, or degraded: a sink is down)"),
      503: json(health, "cannot trade"),
    },
  });
  op("get", "/metrics", {
    summary: "Prometheus metrics",
    tags: ["ops"],
    responses: { 200: { description: "Prometheus text", content: { "text/plain": { schema: z.string() } } } },
  });
  op("post", "/orders", {
    summary: "Submit an order (same body as a RabbitMQ message)",
    description:
      "The seed flat insert, or the envelope with `type: SUBMIT`. The same request again returns " +
      "the existing record; a reused order_id with other content is 409.",
    tags: ["orders"],
    request: {
      body: { required: true, content: { "application/json": { schema: z.union([insert, envelope]) } } },
    },
    responses: {
      202: json(
        z.object({ order: record, duplicate: z.boolean(), warnings: z.array(z.string()) }),
        "recorded and sent",
      ),
      400: json(error, "field errors, or refused by a rule (recorded REJECTED)"),
      409: json(error, "order_id already used by a different request"),
      413: json(error, "body too large"),
      503: json(error, "cannot trade or record now (broker not ready, standby, database down)"),
    },
  });
  op("get", "/orders", {
    summary: "Orders from PostgreSQL, newest first",
    tags: ["orders"],
    request: { query: listOrdersQuerySchema },
    responses: { 200: json(z.object({ orders: z.array(record) }), "orders"), 400: json(error, "bad query") },
  });
  op("get", "/orders/{order_id}", {
    summary: "One order with its events and fills",
    tags: ["orders"],
    request: { params: getOrderParamsSchema },
    responses: {
      200: json(
        z.object({
          order: record,
          events: z.array(event),
          trades: z.array(z.record(z.string(), z.unknown())),
        }),
        "the order",
      ),
      400: json(error, "bad order_id"),
      404: json(error, "unknown order"),
    },
  });
  op("delete", "/orders/{order_id}", {
    summary: "Cancel an order",
    tags: ["orders"],
    request: { params: cancelOrderParamsSchema },
    responses: {
      202: json(z.object({ order: record, cancel: z.string() }), "cancel sent"),
      400: json(error, "bad order_id"),
      404: json(error, "unknown order"),
      409: json(error, "already finished"),
      503: json(error, "cannot trade now"),
    },
  });
  op("get", "/positions", {
    summary: "Live positions (every symbol seen this session; flat ones with net 0)",
    tags: ["live"],
    responses: { 200: json(z.array(position), "positions"), 503: json(error, "no broker snapshot yet") },
  });
  op("get", "/account", {
    summary: "Live account (CNY)",
    tags: ["live"],
    responses: { 200: json(account, "account"), 503: json(error, "no broker snapshot yet") },
  });
  op("get", "/kill-switch", {
    summary: "The kill switch state",
    tags: ["risk"],
    request: {
      query: z.object({
        symbol: z.string().optional().describe("also report the effective mode of this symbol"),
      }),
    },
    responses: { 200: json(kill, "state") },
  });
  op("put", "/kill-switch", {
    summary: "Set the kill switch (persisted)",
    tags: ["risk"],
    request: { body: { required: true, content: { "application/json": { schema: killBody } } } },
    responses: {
      200: json(
        z.object({ kill_switch: KillSwitchEntry, event_id: z.unknown(), flatten: z.string().nullable() }),
        "persisted, then applied",
      ),
      400: json(error, "bad body"),
      503: json(error, "not persisted: nothing changed"),
    },
  });
  op("get", "/ws", {
    summary: "WebSocket stream: a snapshot message, then position/order/account/status messages",
    tags: ["live"],
    responses: {
      101: { description: "switching to WebSocket" },
      426: json(error, "not a WebSocket upgrade"),
    },
  });
  op("get", "/intraday", {
    summary: "Intraday series of balance and net positions (the live page's chart)",
    tags: ["live"],
    responses: {
      200: json(
        z.object({
          trading_day: z.string(),
          points: z.array(
            z.object({
              t: z.number().describe("epoch ms"),
              balance: z.number(),
              nets: z.record(z.string(), z.number()),
            }),
          ),
        }),
        "the series",
      ),
    },
  });
  op("get", "/openapi.json", {
    summary: "This document",
    tags: ["docs"],
    responses: {
      200: {
        description: "OpenAPI 3.0 document",
        content: { "application/json": { schema: z.object({}).passthrough() } },
      },
    },
  });
  op("get", "/docs", {
    summary: "Browsable API docs (Swagger UI served by the service; works offline)",
    tags: ["docs"],
    responses: {
      200: { description: "HTML page", content: { "text/html": { schema: z.string() } } },
      503: json(error, "assets not available (bundle build)"),
    },
  });
  op("get", "/", {
    summary: "The live page (positions, orders, account, kill switch)",
    tags: ["docs"],
    responses: { 200: { description: "HTML page", content: { "text/html": { schema: z.string() } } } },
  });

  const doc = app.getOpenAPIDocument({
    openapi: "3.0.3",
    info: {
      title: NAME,
      version: VERSION,
      description:
        "REST and WebSocket API of tqsdk-broker-connect. Every route but /health, /metrics and the " +
        "static pages needs a bearer token; `read` covers GET routes and /ws, `trade` covers orders, cancels " +
        "and the kill switch.",
    },
    servers: options.serverUrl ? [{ url: options.serverUrl }] : undefined,
    security: [{ bearerAuth: [] }],
  });
  return doc as unknown as Record<string, unknown>;
}

/** The operations of a document as `{method, path}` pairs, sorted. */
export function documentedRoutes(doc: Record<string, unknown>): DocumentedRoute[] {
  const out: DocumentedRoute[] = [];
  const paths = (doc.paths ?? {}) as Record<string, Record<string, unknown>>;
  for (const [path, item] of Object.entries(paths)) {
    for (const method of Object.keys(item)) {
      if (["get", "post", "put", "delete"].includes(method)) {
        out.push({ method: method as DocumentedRoute["method"], path });
      }
    }
  }
  return out.sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
}
