/**
 * A deterministic corpus of malformed and hostile order requests (and the valid ones interleaved with them),
 * for `corpus_test.ts` to send through REST and RabbitMQ. Same seed and options → the same bodies.
 *
 * Each entry says what the service must answer ({@link CorpusExpect}):
 * - `valid`: placed (REST 202; RabbitMQ: a row ACCEPTED or FILLED);
 * - `invalid`: refused by the schema naming `field` (REST 400 with `errors[].field`; RabbitMQ: dead-lettered
 *   with `x-reject-reason` and `field` in `x-reject-fields`);
 * - `rule`: valid JSON refused by a pre-trade rule (REST 400 with `code` and `field`; RabbitMQ: acked and
 *   recorded `REJECTED` with the code);
 * - `too_large`: over the 64 KiB body limit (REST 413 naming `$`; RabbitMQ: dead-lettered naming `$`);
 * - `conflict`: an `order_id` already used with other content (REST 409; RabbitMQ: dead-lettered);
 * - `unknown_cancel`: a cancel of an order that does not exist (REST `DELETE` 404; RabbitMQ: dead-lettered).
 *
 * The book the corpus assumes: SHFE.rb2605 (tick 1) at 3500 / 3501 with a 3000–4000 band.
 *
 * @module
 */

/** What the service must answer to one entry. */
export type CorpusExpect =
  | { kind: "valid"; fills: boolean }
  | { kind: "invalid"; field: string }
  | { kind: "rule"; code: string; field: string }
  | { kind: "too_large" }
  | { kind: "conflict"; of: string }
  | { kind: "unknown_cancel" };

/** One body of the corpus. */
export interface CorpusEntry {
  index: number;
  category: string;
  /** The exact text sent (REST body / AMQP payload); for `unknown_cancel` the AMQP body. */
  body: string;
  expect: CorpusExpect;
  /** The body's order id when it is a usable one. */
  orderId: string | null;
}

/** Options of {@link generateCorpus}. */
export interface CorpusOptions {
  seed: number;
  portfolioId: string;
  /** Prefix of every order id (one per channel, so REST and RabbitMQ entries never share an id). */
  idPrefix: string;
  /** Number of entries (default 560). */
  size?: number;
}

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const REQUIRED = ["symbol", "direction", "offset", "volume", "order_id", "portfolio_id"] as const;

const WRONG_TYPES: Record<string, unknown[]> = {
  symbol: [42, true, null, ["SHFE.rb2605"], { code: "rb2605" }, "rb2605", "shfe.rb2605", "SHFE.", ""],
  direction: ["buy", "Buy", 1, null, ["BUY"], "LONG", "", true],
  offset: ["open", "CLOSE_TODAY", 0, null, "OPEN ", {}, "CLOSEYESTERDAY"],
  volume: ["1", "one", true, null, [1], { n: 1 }, ""],
  limit_price: ["3500", true, [3500], { p: 3500 }, "", "3500.0"],
  order_id: [7, true, null, ["x"], {}, ""],
  portfolio_id: [1, true, null, [], {}],
  price_type: ["limit", 1, "MARKET", "BEST", null],
  time_condition: ["gfd", "GTC", 1, "FAK", null],
  volume_condition: ["all", "MIN", 2, null],
};

const HOSTILE_KEYS = [
  "volumn",
  "limitprice",
  "Symbol",
  "ORDER_ID",
  "price",
  "qty",
  "account",
  "__proto__",
  "constructor",
  "prototype",
  "x".repeat(200),
  "a\u0000b",
  "\u202eevil",
  "键",
  "",
  " ",
  "$where",
  "order_id ",
  "user_id",
  "toString",
];

const BAD_IDS = [
  "订单-1",
  "a\u0000b",
  "line\nbreak",
  "tab\there",
  "space id",
  "emoji😀",
  "\u202eRTL",
  "zero\u200bwidth",
  "x".repeat(65),
  "semi;colon",
  "slash/id",
  "hash#id",
  "eq=id",
  "pipe|id",
  'quote"id',
  "back\\slash",
  "\u0007bell",
  "%00",
  "../../etc/passwd",
  "' or 1=1 --",
];

/** Generate the corpus (deterministic for the same options). */
export function generateCorpus(options: CorpusOptions): CorpusEntry[] {
  const rand = seededRandom(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const size = options.size ?? 560;
  const pf = options.portfolioId;
  const entries: CorpusEntry[] = [];
  const seen = new Set<string>();
  const valids: string[] = [];
  let n = 0;
  const id = (tag: string) => `${options.idPrefix}-${tag}-${n}`;

  const base = (orderId: string): Record<string, unknown> => ({
    symbol: "SHFE.rb2605",
    direction: pick(["BUY", "SELL"]),
    offset: "OPEN",
    volume: int(1, 3),
    limit_price: 0,
    order_id: orderId,
    portfolio_id: pf,
  });
  // a resting price (never crosses the 3500/3501 book) for the side
  const resting = (o: Record<string, unknown>) => (o.direction === "BUY" ? int(3300, 3499) : int(3502, 3700));

  const add = (category: string, body: string, expect: CorpusExpect, orderId: string | null) => {
    if (seen.has(body)) return;
    seen.add(body);
    entries.push({ index: entries.length, category, body, expect, orderId });
  };
  const json = (o: unknown) => JSON.stringify(o);

  const generators: [string, number, () => void][] = [
    ["broken_json", 60, () => {
      const good = json({ ...base(id("bj")), limit_price: 3400 });
      const cut = good.slice(0, int(1, good.length - 1));
      const variants = [
        cut,
        good.replace(/"/g, "'"),
        good.replace("}", ",}"),
        good.replace(":", ""),
        `${good}${good}`,
        `{"volume": NaN, "n": ${n}}`,
        `{"volume": Infinity, "n": ${n}}`,
        `{"volume": -Infinity, "n": ${n}}`,
        `{"volume": 0x10, "n": ${n}}`,
        `{"volume": 1,, "n": ${n}}`,
        `\u0000${good}`,
        `{not json ${n}`,
        ` `.repeat(int(0, 3)) + `// ${n}`,
        `{"a": "\\u12", "n": ${n}}`,
        `{"n": ${n}, "x": "unterminated}`,
      ];
      add("broken_json", pick(variants), { kind: "invalid", field: "$" }, null);
    }],
    ["non_object", 20, () => {
      const variants = [
        `[${json(base(id("arr")))}]`,
        `${n}`,
        `"order ${n}"`,
        "null",
        "true",
        "false",
        "[]",
        `[${n}]`,
        "",
        `-${n}.5e3`,
      ];
      add("non_object", pick(variants), { kind: "invalid", field: "$" }, null);
    }],
    ["wrong_type", 90, () => {
      const field = pick(Object.keys(WRONG_TYPES));
      const o = base(id("wt"));
      o.limit_price = resting(o);
      o[field] = pick(WRONG_TYPES[field]);
      add(
        "wrong_type",
        json(o),
        { kind: "invalid", field },
        typeof o.order_id === "string" ? o.order_id : null,
      );
    }],
    ["missing_field", 40, () => {
      const field = pick(REQUIRED);
      const o = base(id("mf"));
      o.limit_price = resting(o);
      delete o[field];
      add(
        "missing_field",
        json(o),
        { kind: "invalid", field },
        field === "order_id" ? null : o.order_id as string,
      );
    }],
    ["extra_field", 50, () => {
      const key = pick(HOSTILE_KEYS);
      const o = base(id("xf"));
      o.limit_price = resting(o);
      const text = json(o).replace(/}$/, `,${json(key)}:${json(pick([1, "x", null, {}, [1]]))}}`);
      const field = /^[\x21-\x7E]{1,64}$/.test(key) ? key : "$";
      add("extra_field", text, { kind: "invalid", field }, o.order_id as string);
    }],
    ["huge_number", 30, () => {
      const o = base(id("hn"));
      o.limit_price = resting(o);
      const [field, raw] = pick(
        [
          ["volume", "10000000"],
          ["volume", "9007199254740993"],
          ["volume", "1e308"],
          ["volume", "1e400"],
          ["limit_price", "1e13"],
          ["limit_price", "1e400"],
          ["limit_price", "-1e400"],
          ["volume", "123456789012345678901234567890"],
        ] as const,
      );
      const text = json(o).replace(new RegExp(`"${field}":[^,}]+`), `"${field}":${raw}`);
      add("huge_number", text, { kind: "invalid", field }, o.order_id as string);
    }],
    ["nan_string", 15, () => {
      const o = base(id("nan"));
      o.limit_price = resting(o);
      const field = pick(["volume", "limit_price"]);
      o[field] = pick(["NaN", "Infinity", "-Infinity", "1e999"]);
      add("nan_string", json(o), { kind: "invalid", field }, o.order_id as string);
    }],
    ["bad_volume", 40, () => {
      const o = base(id("bv"));
      o.limit_price = resting(o);
      const raw = pick(["-1", "0", "-0", "1.5", "0.0001", "2.999", "-100", "1e-7", "0.5"]);
      const text = json(o).replace(/"volume":[^,}]+/, `"volume":${raw}`);
      add("bad_volume", text, { kind: "invalid", field: "volume" }, o.order_id as string);
    }],
    ["bad_price", 20, () => {
      const o = base(id("bp"));
      const raw = pick(["0", "-3500", "-0.01", "0.0"]);
      const text = json(o).replace(/"limit_price":[^,}]+/, `"limit_price":${raw}`);
      add("bad_price", text, { kind: "invalid", field: "limit_price" }, o.order_id as string);
    }],
    ["cross_field", 25, () => {
      const o = base(id("cf"));
      o.limit_price = resting(o);
      const [field, patch] = pick(
        [
          ["limit_price", { price_type: "ANY" }],
          ["volume_condition", { volume_condition: "ALL", time_condition: "GFD" }],
          ["time_condition", { price_type: "ANY", limit_price: null, time_condition: "GFD" }],
          ["limit_price", { price_type: "LIMIT", limit_price: null }],
        ] as const,
      );
      add("cross_field", json({ ...o, ...patch }), { kind: "invalid", field }, o.order_id as string);
    }],
    ["bad_timestamp", 15, () => {
      const o = base(id("ts"));
      o.limit_price = resting(o);
      o.timestamp = pick([1735000000000, 1735000000, "2025-12-24T10:00:00", "yesterday", -1, "1e18", true]);
      add("bad_timestamp", json(o), { kind: "invalid", field: "timestamp" }, o.order_id as string);
    }],
    ["bad_id", 40, () => {
      const o = base("x");
      o.limit_price = resting(o);
      o.order_id = `${pick(BAD_IDS)}${n}`;
      add("bad_id", json(o), { kind: "invalid", field: "order_id" }, null);
    }],
    ["other_portfolio", 25, () => {
      const o = base(id("op"));
      o.limit_price = resting(o);
      o.portfolio_id = pick([
        `${pf}x`,
        "someone-else",
        "",
        ` ${pf}`,
        pf.toUpperCase(),
        "pf\u0000",
        "组合",
        "*",
      ]);
      add("other_portfolio", json(o), { kind: "invalid", field: "portfolio_id" }, o.order_id as string);
    }],
    ["envelope", 20, () => {
      const o = base(id("env"));
      o.limit_price = resting(o);
      const field = pick(["volume", "direction", "symbol"]);
      o[field] = pick([[], "?", -1]);
      add(
        "envelope",
        json({ type: "SUBMIT", request_id: `r-${n}`, payload: o }),
        { kind: "invalid", field: `payload.${field}` },
        o.order_id as string,
      );
    }],
    ["too_large", 6, () => {
      const o = base(id("big"));
      o.limit_price = resting(o);
      const bytes = pick([70_000, 200_000, 1_048_576]);
      const pad = pick(["a", "订", "\u0001"]);
      o.note = pad.repeat(Math.ceil(bytes / new TextEncoder().encode(pad).length));
      add("too_large", json(o), { kind: "too_large" }, null);
    }],
    ["unknown_symbol_form", 15, () => {
      const o = base(id("us"));
      o.limit_price = resting(o);
      o.symbol = pick([
        "rb2605",
        "SHFE rb2605",
        "SHFE..rb2605",
        "S.rb2605",
        "SHFE.rb2605;DROP",
        "ＳＨＦＥ.rb2605",
      ]);
      add("unknown_symbol_form", json(o), { kind: "invalid", field: "symbol" }, o.order_id as string);
    }],
    ["unknown_symbol", 15, () => {
      const o = base(id("uk"));
      o.limit_price = 100;
      o.symbol = pick(["SHFE.xx9999", "DCE.zz2605", "FOO.bar1", "SHFE.rb1901", "CZCE.AB123"]);
      add(
        "unknown_symbol",
        json(o),
        { kind: "rule", code: "UNKNOWN_SYMBOL", field: "symbol" },
        o.order_id as string,
      );
    }],
    ["off_tick", 20, () => {
      const o = base(id("tk"));
      o.limit_price = resting(o) + pick([0.5, 0.1, 0.25, 0.999]);
      add(
        "off_tick",
        json(o),
        { kind: "rule", code: "PRICE_TICK", field: "limit_price" },
        o.order_id as string,
      );
    }],
    ["out_of_band", 20, () => {
      const o = base(id("ob"));
      o.limit_price = pick([int(4001, 9000), int(1, 2999)]);
      add(
        "out_of_band",
        json(o),
        { kind: "rule", code: "PRICE_LIMIT", field: "limit_price" },
        o.order_id as string,
      );
    }],
    ["volume_range", 10, () => {
      const o = base(id("vr"));
      o.limit_price = resting(o);
      o.volume = int(5000, 1_000_000);
      add(
        "volume_range",
        json(o),
        { kind: "rule", code: "VOLUME_RANGE", field: "volume" },
        o.order_id as string,
      );
    }],
    ["conflict", 15, () => {
      if (valids.length < 3) return;
      const of = pick(valids.slice(0, -2));
      const o = { ...base(of), limit_price: 3301, volume: 7 };
      add("conflict", json(o), { kind: "conflict", of }, of);
    }],
    ["unknown_cancel", 15, () => {
      const orderId = id("nc");
      add(
        "unknown_cancel",
        json(pick([
          { action: "CANCEL", order_id: orderId, portfolio_id: pf },
          { action: "cancel", order_id: orderId, portfolio_id: pf },
          { type: "CANCEL", payload: { order_id: orderId, portfolio_id: pf } },
        ])),
        { kind: "unknown_cancel" },
        orderId,
      );
    }],
  ];
  const plan: (() => void)[] = [];
  for (const [, count, gen] of generators) for (let i = 0; i < count; i++) plan.push(gen);
  // shuffle (Fisher–Yates, seeded), keeping the conflict entries late enough to find their originals
  for (let i = plan.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [plan[i], plan[j]] = [plan[j], plan[i]];
  }
  let k = 0;
  while (entries.length < size) {
    n++;
    if (n % 10 === 0) {
      // a valid order every tenth entry: resting, or crossing the ask / bid (a fill)
      const o = base(id("ok"));
      const fills = n % 30 === 0;
      o.limit_price = fills ? (o.direction === "BUY" ? 3501 : 3500) : resting(o);
      o.volume = 1;
      valids.push(o.order_id as string);
      add("valid", json(o), { kind: "valid", fills }, o.order_id as string);
      continue;
    }
    plan[k % plan.length]();
    k++;
  }
  return entries;
}
