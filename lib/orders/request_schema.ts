/**
 * Order request parsing, shared by the RabbitMQ and REST intakes (contract §2).
 *
 * Three forms are accepted, each with its own zod schema:
 *
 * - the seed flat insert: `{"symbol", "direction", "offset", "volume", "limit_price", "order_id",
 *   "portfolio_id"}` plus the optional `price_type`, `time_condition`, `volume_condition`, `timestamp`;
 * - the flat cancel: `{"action": "CANCEL", "order_id", "portfolio_id"}` (`action` in any letter case, or
 *   `"type": "CANCEL"` instead), optionally with `timestamp` and `request_id`;
 * - the envelope: `{"type": "SUBMIT" | "CANCEL", "request_id", "timestamp", "payload": {…}}` whose payload is
 *   one of the two flat forms (without `action`/`type` for a submit); the envelope's `timestamp` applies when
 *   the payload has none. Errors inside it are named `payload.<field>`.
 *
 * Which form: a body with a `payload` key (or `type` SUBMIT) is an envelope, one with `action` or `type` is a
 * cancel, any other object is an insert.
 *
 * Decisions (strict on purpose: a wrong order costs money, a refused one costs a retry):
 * - Unknown fields are refused, naming the field (`volumn: unknown field (did you mean volume?)`), so typos
 *   are caught instead of silently defaulting.
 * - Types are exact: `"1"` is not a volume and `"3500"` is not a price; enum values are upper case exactly
 *   (`BUY`, not `buy`) except the cancel marker (`action`/`type`), which the original sent in either case.
 * - `limit_price: null` counts as absent (a market order). `limit_price: 0` is refused.
 * - `timestamp` is epoch nanoseconds (a number or a string of digits) or ISO-8601 **with** an offset or `Z`,
 *   between 2000 and 2100, so a value sent in ms or s (a unit mistake) is refused rather than read as 1970.
 * - Defaults: with `limit_price` → LIMIT / GFD / ANY; without (or `price_type: ANY`) → ANY / IOC / ANY.
 *   `price_type: LIMIT` needs `limit_price`; `price_type: ANY` refuses a `limit_price`; a market (ANY) order
 *   must be IOC; `volume_condition: ALL` (FOK) needs IOC.
 * - Limits: volume ≤ 1 000 000, limit_price ≤ 1e12, body ≤ `maxBytes` (64 KiB; checked for text and bytes,
 *   not for an already parsed value). At most {@link MAX_ERRORS} errors are listed.
 *
 * Parsing never throws: every problem is a {@link FieldError} naming a field (dotted for the envelope's
 * payload) or `$` for the whole body.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { z } from "zod";
import type { CancelRequest, FieldError, InsertRequest, ParsedRequest } from "./types.ts";

/** Default maximum body size in bytes (64 KiB). */
export const DEFAULT_MAX_BYTES = 65536;
/** At most this many errors are reported for one body (then one `$: … more` line). */
export const MAX_ERRORS = 20;
/** Largest accepted `volume`. */
export const MAX_VOLUME = 1_000_000;
/** Largest accepted `limit_price`. */
export const MAX_PRICE = 1e12;

/** `order_id`: 1–64 chars of `[A-Za-z0-9_.:-]`. */
export const ORDER_ID_RE: RegExp = /^[A-Za-z0-9_.:-]{1,64}$/;
/** `symbol`: `EXCHANGE.code`, e.g. `SHFE.rb2605`, `CZCE.SR605`, `CFFEX.IO2512-C-4000`. */
export const SYMBOL_RE: RegExp = /^[A-Z]{2,8}\.[A-Za-z0-9][A-Za-z0-9-]{0,39}$/;
/** `request_id`: 1–128 printable ASCII characters without spaces (a UUID fits). */
export const REQUEST_ID_RE: RegExp = /^[\x21-\x7E]{1,128}$/;
const PORTFOLIO_ID_RE = /^[\x21-\x7E]{1,64}$/;
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const NS_DIGITS = /^\d{1,20}$/;
const MIN_TIMESTAMP_MS = Date.UTC(2000, 0, 1);
const MAX_TIMESTAMP_MS = Date.UTC(2100, 0, 1);

// ---------------------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------------------

/** A short, single-line, escaped rendering of an offending value (for messages and logs). */
function show(value: unknown): string {
  let text: string;
  if (value === null) text = "null";
  else if (Array.isArray(value)) text = "a list";
  else if (typeof value === "object") text = "an object";
  else if (typeof value === "string") text = JSON.stringify(value);
  else if (typeof value === "number" && !Number.isFinite(value)) text = String(value);
  else text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** A zod `error` option: `<text>, got <value>`, or `is required; <text>` when the field is missing. */
function expect(text: string) {
  return {
    error: (issue: { input?: unknown }) =>
      issue.input === undefined ? `is required; ${text}` : `${text}, got ${show(issue.input)}`,
  };
}

const M = {
  symbol: "expected EXCHANGE.code (e.g. SHFE.rb2605)",
  direction: "expected BUY or SELL",
  offset: "expected OPEN, CLOSE or CLOSETODAY",
  volume: "expected an integer ≥ 1",
  volumeMax: `expected an integer ≤ ${MAX_VOLUME}`,
  limitPrice: "expected a finite number > 0",
  limitPriceMax: `expected a number ≤ ${MAX_PRICE}`,
  orderId: "1–64 chars of [A-Za-z0-9_.:-]",
  portfolioId: "expected a string",
  priceType: "expected LIMIT or ANY",
  timeCondition: "expected GFD or IOC",
  volumeCondition: "expected ANY or ALL",
  timestamp: "expected epoch nanoseconds (number or digit string) or ISO-8601 with offset, 2000–2100",
  requestId: "expected 1–128 printable ASCII characters without spaces",
  cancelMarker: "expected CANCEL",
  envelopeType: "expected SUBMIT or CANCEL",
  payload: "expected a JSON object",
} as const;

// ---------------------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------------------

/** Epoch ms of a `timestamp` value, or null when it is not a usable one. */
export function timestampToMs(value: unknown): number | null {
  let ms: number;
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) return null;
    ms = Math.floor(value / 1e6);
  } else if (typeof value === "string" && NS_DIGITS.test(value)) {
    ms = Number(BigInt(value) / 1_000_000n);
  } else if (typeof value === "string" && ISO_WITH_OFFSET.test(value)) {
    ms = Date.parse(value);
    if (Number.isNaN(ms)) return null;
  } else {
    return null;
  }
  return ms >= MIN_TIMESTAMP_MS && ms < MAX_TIMESTAMP_MS ? ms : null;
}

const orderIdSchema = z.string(expect(M.orderId)).regex(ORDER_ID_RE, expect(M.orderId));
const portfolioIdSchema = z.string(expect(M.portfolioId));
const requestIdSchema = z.string(expect(M.requestId)).regex(REQUEST_ID_RE, expect(M.requestId));
const timestampSchema = z.union([z.number(), z.string()], expect(M.timestamp)).refine(
  (v) => timestampToMs(v) !== null,
  expect(M.timestamp),
);
const cancelMarkerSchema = z.string(expect(M.cancelMarker)).regex(/^cancel$/i, expect(M.cancelMarker));

/** The seed flat insert (also the envelope's SUBMIT payload). Cross-field rules are applied after it. */
export const insertRequestSchema = z.strictObject({
  symbol: z.string(expect(M.symbol)).regex(SYMBOL_RE, expect(M.symbol)),
  direction: z.enum(["BUY", "SELL"], expect(M.direction)),
  offset: z.enum(["OPEN", "CLOSE", "CLOSETODAY"], expect(M.offset)),
  volume: z.number(expect(M.volume)).int(expect(M.volume)).min(1, expect(M.volume)).max(
    MAX_VOLUME,
    expect(M.volumeMax),
  ),
  limit_price: z.number(expect(M.limitPrice)).gt(0, expect(M.limitPrice)).lte(
    MAX_PRICE,
    expect(M.limitPriceMax),
  )
    .nullable().optional(),
  order_id: orderIdSchema,
  portfolio_id: portfolioIdSchema,
  price_type: z.enum(["LIMIT", "ANY"], expect(M.priceType)).optional(),
  time_condition: z.enum(["GFD", "IOC"], expect(M.timeCondition)).optional(),
  volume_condition: z.enum(["ANY", "ALL"], expect(M.volumeCondition)).optional(),
  timestamp: timestampSchema.optional(),
});

/** The flat cancel (`action` or `type` = CANCEL in any case; also the envelope's CANCEL payload). */
export const cancelRequestSchema = z.strictObject({
  action: cancelMarkerSchema.optional(),
  type: cancelMarkerSchema.optional(),
  order_id: orderIdSchema,
  portfolio_id: portfolioIdSchema,
  request_id: requestIdSchema.optional(),
  timestamp: timestampSchema.optional(),
});

/** The envelope; its `payload` is then parsed with {@link insertRequestSchema} or {@link cancelRequestSchema}. */
export const envelopeSchema = z.strictObject({
  type: z.string(expect(M.envelopeType)).regex(/^(submit|cancel)$/i, expect(M.envelopeType)),
  request_id: requestIdSchema.optional(),
  timestamp: timestampSchema.optional(),
  payload: z.record(z.string(), z.unknown(), expect(M.payload)),
});

const KNOWN_FIELDS: Record<"insert" | "cancel" | "envelope", readonly string[]> = {
  insert: Object.keys(insertRequestSchema.shape),
  cancel: Object.keys(cancelRequestSchema.shape),
  envelope: Object.keys(envelopeSchema.shape),
};

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

function unknownField(prefix: string, key: string, known: readonly string[]): FieldError {
  if (!/^[\x21-\x7E]{1,64}$/.test(key)) {
    // Never echo control characters or huge keys into a field name (logs, database).
    return { field: "$", message: `unknown field ${show(key)}` };
  }
  const close = key.length <= 64 ? known.find((k) => editDistance(k, key.toLowerCase()) <= 2) : undefined;
  return {
    field: prefix + key,
    message: close && close !== key ? `unknown field (did you mean ${close}?)` : "unknown field",
  };
}

function zodErrors(
  issues: readonly z.core.$ZodIssue[],
  prefix: string,
  known: readonly string[],
): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push(unknownField(prefix, key, known));
    } else {
      const path = issue.path.map(String).join(".");
      out.push({
        field: path === "" ? (prefix === "" ? "$" : prefix.slice(0, -1)) : prefix + path,
        message: issue.message,
      });
    }
  }
  return out;
}

/** Keep the first error per field, at most {@link MAX_ERRORS} (then one `$` line counting the rest). */
function tidy(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  const unique: FieldError[] = [];
  for (const e of errors) {
    const key = e.field === "$" ? `$${e.message}` : e.field;
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(e);
  }
  if (unique.length <= MAX_ERRORS) return unique;
  return [
    ...unique.slice(0, MAX_ERRORS),
    { field: "$", message: `… and ${unique.length - MAX_ERRORS} more errors` },
  ];
}

/** A zod error's issues as field errors (`a.b` paths; `$` for the whole value), in zod's words. */
export function zodFieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((i) => ({
    field: i.path.length > 0 ? i.path.join(".") : "$",
    message: i.message,
  }));
}

/** `field: message; field: message` — for logs, reject reasons and dead-letter headers. */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join("; ");
}

// ---------------------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------------------

/** Options for {@link parseOrderRequest}. */
export interface ParseOrderRequestOptions {
  /** This service's portfolio (`tq.portfolio_id`); any other is refused. */
  portfolioId: string;
  /** Largest body (text or bytes) in bytes; default {@link DEFAULT_MAX_BYTES}. */
  maxBytes?: number;
}

function invalid(errors: FieldError[], ids: Record<string, unknown> | null = null): ParsedRequest {
  const orderId = ids?.order_id;
  const portfolioId = ids?.portfolio_id;
  return {
    kind: "invalid",
    order_id: typeof orderId === "string" && ORDER_ID_RE.test(orderId) ? orderId : null,
    portfolio_id: typeof portfolioId === "string" && PORTFOLIO_ID_RE.test(portfolioId) ? portfolioId : null,
    errors: tidy(errors),
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}

/**
 * A request body as a value: UTF-8 bytes (a RabbitMQ body) or JSON text parsed (a leading BOM dropped), any
 * other value as it is. `error` says what made the body unusable: too large, not UTF-8, not JSON.
 */
function decodeRequestBody(
  body: unknown,
  options: { maxBytes?: number } = {},
): { value: unknown } | { error: FieldError } {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  let text: string;
  if (body instanceof Uint8Array) {
    if (body.byteLength > maxBytes) {
      return { error: { field: "$", message: `body of ${body.byteLength} bytes exceeds ${maxBytes}` } };
    }
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(body);
    } catch {
      return { error: { field: "$", message: "not UTF-8 text" } };
    }
  } else if (typeof body === "string") {
    const bytes = Buffer.byteLength(body, "utf8");
    if (bytes > maxBytes) {
      return { error: { field: "$", message: `body of ${bytes} bytes exceeds ${maxBytes}` } };
    }
    text = body;
  } else {
    return { value: body };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return {
      error: {
        field: "$",
        message: `not JSON: ${why.replace(/[^\x20-\x7E\u00A0-\uFFFF]/g, " ").slice(0, 120)}`,
      },
    };
  }
}

/**
 * The body to hand to several parsers ({@linkcode parseOrderRequest}, the control-message parser) so that
 * its JSON is parsed once: the parsed object when the body is a JSON object, else the body itself, for each
 * parser to refuse as it would. (A JSON string value stays undecoded: parsed again it would be taken for the
 * text of a request.)
 */
export function decodeBodyOnce(body: unknown, options: { maxBytes?: number } = {}): unknown {
  const decoded = decodeRequestBody(body, options);
  return "value" in decoded && isPlainObject(decoded.value) ? decoded.value : body;
}

function checkPortfolio(value: string, field: string, portfolioId: string): FieldError[] {
  return value === portfolioId ? [] : [{ field, message: `not this service's portfolio (${portfolioId})` }];
}

/** Validate an insert object (flat or payload); `prefix` is `""` or `"payload."`. */
function parseInsert(
  o: Record<string, unknown>,
  prefix: string,
  portfolioId: string,
  envelope: { request_id: string | null; timestamp_ms: number | null },
): { request: InsertRequest } | { errors: FieldError[] } {
  const r = insertRequestSchema.safeParse(o);
  const errors: FieldError[] = r.success ? [] : zodErrors(r.error.issues, prefix, KNOWN_FIELDS.insert);
  if (typeof o.portfolio_id === "string") {
    errors.push(...checkPortfolio(o.portfolio_id, `${prefix}portfolio_id`, portfolioId));
  }

  // Cross-field rules: judged on the raw values so they are reported alongside type errors.
  const hasPrice = o.limit_price !== undefined && o.limit_price !== null;
  const priceType = o.price_type === "LIMIT" || o.price_type === "ANY"
    ? o.price_type
    : hasPrice
    ? "LIMIT"
    : "ANY";
  const timeCondition = o.time_condition === "GFD" || o.time_condition === "IOC"
    ? o.time_condition
    : priceType === "LIMIT"
    ? "GFD"
    : "IOC";
  if (priceType === "LIMIT" && !hasPrice) {
    errors.push({ field: `${prefix}limit_price`, message: "is required when price_type is LIMIT" });
  }
  if (priceType === "ANY" && hasPrice) {
    errors.push({
      field: `${prefix}limit_price`,
      message: "must be absent when price_type is ANY (a market order)",
    });
  }
  if (priceType === "ANY" && timeCondition !== "IOC") {
    errors.push({
      field: `${prefix}time_condition`,
      message: "expected IOC for a market (price_type ANY) order",
    });
  }
  if (o.volume_condition === "ALL" && timeCondition !== "IOC") {
    errors.push({
      field: `${prefix}volume_condition`,
      message: "ALL (fill or kill) needs time_condition IOC",
    });
  }
  if (!r.success || errors.length > 0) return { errors };

  const v = r.data;
  return {
    request: {
      order_id: v.order_id,
      portfolio_id: v.portfolio_id,
      symbol: v.symbol,
      direction: v.direction,
      offset: v.offset,
      volume: v.volume,
      limit_price: v.limit_price ?? null,
      price_type: priceType,
      time_condition: timeCondition,
      volume_condition: v.volume_condition ?? "ANY",
      timestamp_ms: v.timestamp !== undefined ? timestampToMs(v.timestamp) : envelope.timestamp_ms,
      request_id: envelope.request_id,
    },
  };
}

/** Validate a cancel object (flat or payload). */
function parseCancel(
  o: Record<string, unknown>,
  prefix: string,
  portfolioId: string,
  envelopeRequestId: string | null,
): { request: CancelRequest } | { errors: FieldError[] } {
  const r = cancelRequestSchema.safeParse(o);
  const errors: FieldError[] = r.success ? [] : zodErrors(r.error.issues, prefix, KNOWN_FIELDS.cancel);
  if (typeof o.portfolio_id === "string") {
    errors.push(...checkPortfolio(o.portfolio_id, `${prefix}portfolio_id`, portfolioId));
  }
  if (!r.success || errors.length > 0) return { errors };
  return {
    request: {
      order_id: r.data.order_id,
      portfolio_id: r.data.portfolio_id,
      request_id: envelopeRequestId ?? r.data.request_id ?? null,
    },
  };
}

function parseEnvelope(o: Record<string, unknown>, portfolioId: string): ParsedRequest {
  const r = envelopeSchema.safeParse(o);
  const errors: FieldError[] = r.success ? [] : zodErrors(r.error.issues, "", KNOWN_FIELDS.envelope);
  const payload = isPlainObject(o.payload) ? o.payload : null;
  const type = typeof o.type === "string" ? o.type.toUpperCase() : null;
  const requestId = typeof o.request_id === "string" && REQUEST_ID_RE.test(o.request_id)
    ? o.request_id
    : null;
  const timestampMs = o.timestamp === undefined ? null : timestampToMs(o.timestamp);
  if (payload === null || (type !== "SUBMIT" && type !== "CANCEL")) return invalid(errors, payload);

  if (type === "SUBMIT") {
    const p = parseInsert(payload, "payload.", portfolioId, {
      request_id: requestId,
      timestamp_ms: timestampMs,
    });
    if ("errors" in p || errors.length > 0) {
      return invalid([...errors, ...("errors" in p ? p.errors : [])], payload);
    }
    return { kind: "insert", request: p.request };
  }
  const p = parseCancel(payload, "payload.", portfolioId, requestId);
  if ("errors" in p || errors.length > 0) {
    return invalid([...errors, ...("errors" in p ? p.errors : [])], payload);
  }
  return { kind: "cancel", request: p.request };
}

/**
 * Parse one order request: JSON text, UTF-8 bytes (a RabbitMQ body) or an already parsed value. Never throws;
 * an unusable body gives `{kind: "invalid", errors, order_id, portfolio_id}` where the two ids are filled when
 * the body had them in a usable form (a well-formed `order_id`, a printable `portfolio_id`), so the refusal
 * can be recorded against the order.
 */
export function parseOrderRequest(body: unknown, options: ParseOrderRequestOptions): ParsedRequest {
  try {
    const decoded = decodeRequestBody(body, options);
    if ("error" in decoded) return invalid([decoded.error]);
    const o = decoded.value;
    if (!isPlainObject(o)) return invalid([{ field: "$", message: "expected a JSON object" }]);
    const has = (k: string) => Object.hasOwn(o, k);
    const submitType = typeof o.type === "string" && /^submit$/i.test(o.type);
    if (has("payload") || submitType) return parseEnvelope(o, options.portfolioId);
    if (has("action") || has("type")) {
      const p = parseCancel(o, "", options.portfolioId, null);
      return "errors" in p ? invalid(p.errors, o) : { kind: "cancel", request: p.request };
    }
    const p = parseInsert(o, "", options.portfolioId, { request_id: null, timestamp_ms: null });
    return "errors" in p ? invalid(p.errors, o) : { kind: "insert", request: p.request };
  } catch (e) {
    // Defensive: a getter or proxy in a caller-supplied object must not take the intake down.
    return invalid([{
      field: "$",
      message: `unreadable body: ${e instanceof Error ? e.message : String(e)}`,
    }]);
  }
}

/**
 * SHA-256 (hex) of the fields that define an order — symbol, direction, offset, volume, limit_price,
 * price_type, time_condition, volume_condition — as canonical JSON (a fixed-order array), so a second
 * request with the same `order_id` can be told apart: same hash = a duplicate delivery, different hash = a
 * conflicting reuse of the id. Ids, timestamps and request ids are not part of it.
 */
export function requestHash(request: InsertRequest): string {
  const canonical = JSON.stringify([
    request.symbol,
    request.direction,
    request.offset,
    request.volume,
    request.limit_price,
    request.price_type,
    request.time_condition,
    request.volume_condition,
  ]);
  return createHash("sha256").update(canonical).digest("hex");
}
