/**
 * Generator of `lib/sim/catalogue_data.json`, the product templates of the simulated exchange. Run by hand
 * (never imported at run time) when the product list or the fixtures change:
 *
 *     deno run -A tools/build_catalogue.ts [--fixtures /work/shared/fixtures] [--out lib/sim/catalogue_data.json]
 *
 * Sources, in order of precedence:
 * 1. `sandbox-quotes-2025/quotes.json` (SHFE.rb, DCE.m, SHFE.au as the 2025 sandbox showed them; a Python
 *    dump with bare `NaN`, parsed tolerantly);
 * 2. `tqsdk-python-symbols/2019-07-03.json.lzma` (decompressed with `xz --format=lzma -dc`): for each
 *    product, the live contract with the largest open interest and a numeric last price;
 * 3. hand-entered values for products absent from both (INE.lu, INE.nr, listed after 2019), marked
 *    `source: "manual"`.
 * Listed months, expiry rules and limit ratios are this file's own table (simplified; see
 * `lib/sim/catalogue.ts`).
 *
 * @module
 */

import { parseFrame } from "../lib/diff/json.ts";
import type { TradingTime } from "../lib/diff/types.ts";
import type { CatalogueData, ExpiryRule, ProductTemplate } from "../lib/sim/catalogue.ts";

const ALL = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const ODD = [1, 3, 5, 7, 9, 11];
const EVEN = [2, 4, 6, 8, 10, 12];
const DAY15: ExpiryRule = { rule: "day_of_month", day: 15 };
const DAY14: ExpiryRule = { rule: "day_of_month", day: 14 };
const PREV_MONTH_END: ExpiryRule = { rule: "last_weekday_of_previous_month" };
const THIRD_FRIDAY: ExpiryRule = { rule: "nth_weekday", nth: 3, weekday: 5 };
const SECOND_FRIDAY: ExpiryRule = { rule: "nth_weekday", nth: 2, weekday: 5 };
const STANDARD_DAY: [string, string][] = [["09:00:00", "10:15:00"], ["10:30:00", "11:30:00"], [
  "13:30:00",
  "15:00:00",
]];

/** Default daily limit ratio per exchange (approximate; products may override). */
const LIMIT_RATIO: Record<string, number> = { SHFE: 0.07, INE: 0.08, DCE: 0.07, CZCE: 0.07, CFFEX: 0.1 };

interface Spec {
  exchange: string;
  product: string;
  months: number[];
  expiry: ExpiryRule;
  limitRatio?: number;
}

/** The chosen products (liquid ones of each exchange), in catalogue order. */
const SPECS: Spec[] = [
  { exchange: "SHFE", product: "rb", months: ALL, expiry: DAY15 },
  { exchange: "SHFE", product: "hc", months: ALL, expiry: DAY15 },
  { exchange: "SHFE", product: "cu", months: ALL, expiry: DAY15 },
  { exchange: "SHFE", product: "al", months: ALL, expiry: DAY15 },
  { exchange: "SHFE", product: "zn", months: ALL, expiry: DAY15 },
  { exchange: "SHFE", product: "ni", months: ALL, expiry: DAY15 },
  { exchange: "SHFE", product: "au", months: EVEN, expiry: DAY15 },
  { exchange: "SHFE", product: "ag", months: ALL, expiry: DAY15 },
  { exchange: "SHFE", product: "ru", months: [1, 3, 4, 5, 6, 7, 8, 9, 10, 11], expiry: DAY15 },
  { exchange: "SHFE", product: "fu", months: ALL, expiry: PREV_MONTH_END },
  { exchange: "INE", product: "sc", months: ALL, expiry: PREV_MONTH_END },
  { exchange: "INE", product: "lu", months: ALL, expiry: PREV_MONTH_END },
  { exchange: "INE", product: "nr", months: ALL, expiry: DAY15 },
  { exchange: "DCE", product: "m", months: [1, 3, 5, 7, 8, 9, 11, 12], expiry: DAY14 },
  { exchange: "DCE", product: "y", months: [1, 3, 5, 7, 8, 9, 11, 12], expiry: DAY14 },
  { exchange: "DCE", product: "p", months: ALL, expiry: DAY14 },
  { exchange: "DCE", product: "i", months: ALL, expiry: DAY14 },
  { exchange: "DCE", product: "j", months: ALL, expiry: DAY14 },
  { exchange: "DCE", product: "jm", months: ALL, expiry: DAY14 },
  { exchange: "DCE", product: "c", months: ODD, expiry: DAY14 },
  { exchange: "DCE", product: "a", months: ODD, expiry: DAY14 },
  { exchange: "DCE", product: "jd", months: ALL, expiry: DAY14 },
  { exchange: "CZCE", product: "SR", months: ODD, expiry: DAY14 },
  { exchange: "CZCE", product: "CF", months: ODD, expiry: DAY14 },
  { exchange: "CZCE", product: "TA", months: ALL, expiry: DAY14 },
  { exchange: "CZCE", product: "MA", months: ALL, expiry: DAY14 },
  { exchange: "CZCE", product: "RM", months: [1, 3, 5, 7, 8, 9, 11], expiry: DAY14 },
  { exchange: "CZCE", product: "FG", months: ALL, expiry: DAY14 },
  { exchange: "CZCE", product: "AP", months: [1, 3, 4, 5, 10, 11, 12], expiry: DAY14 },
  { exchange: "CFFEX", product: "IF", months: ALL, expiry: THIRD_FRIDAY },
  { exchange: "CFFEX", product: "IH", months: ALL, expiry: THIRD_FRIDAY },
  { exchange: "CFFEX", product: "IC", months: ALL, expiry: THIRD_FRIDAY },
  { exchange: "CFFEX", product: "T", months: [3, 6, 9, 12], expiry: SECOND_FRIDAY, limitRatio: 0.02 },
  { exchange: "CFFEX", product: "TF", months: [3, 6, 9, 12], expiry: SECOND_FRIDAY, limitRatio: 0.012 },
];

type Base = Omit<ProductTemplate, "months" | "expiry" | "limit_ratio" | "exchange_id" | "product_id"> & {
  limit_ratio?: number;
};

/** Products in neither fixture (listed after 2019): approximate exchange contract specs, typed in. */
const MANUAL: Record<string, Base> = {
  "INE.lu": {
    product_short_name: "低硫燃油",
    ins_name_prefix: "低硫燃油",
    class: "FUTURE",
    price_tick: 1,
    price_decs: 0,
    volume_multiple: 10,
    margin: 3400,
    commission: 2,
    max_limit_order_volume: 500,
    max_market_order_volume: 0,
    min_limit_order_volume: 1,
    min_market_order_volume: 0,
    trading_time: { day: STANDARD_DAY, night: [["21:00:00", "23:00:00"]] },
    last_price: 3400,
    pre_volume: 0,
    open_interest: 0,
    sort_key: 66,
    py: "dlry,diliuranyou",
    mmsa: 1,
    source: "manual",
  },
  "INE.nr": {
    product_short_name: "20号胶",
    ins_name_prefix: "20号胶",
    class: "FUTURE",
    price_tick: 5,
    price_decs: 0,
    volume_multiple: 10,
    margin: 12500,
    commission: 3,
    max_limit_order_volume: 500,
    max_market_order_volume: 0,
    min_limit_order_volume: 1,
    min_market_order_volume: 0,
    trading_time: { day: STANDARD_DAY, night: [["21:00:00", "23:00:00"]] },
    last_price: 12500,
    pre_volume: 0,
    open_interest: 0,
    sort_key: 67,
    py: "20hj,20haojiao",
    mmsa: 1,
    source: "manual",
  },
};

type Raw = Record<string, unknown>;

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function round(v: number, decimals: number): number {
  return Number(v.toFixed(decimals));
}

function namePrefix(name: string): string {
  return name.replace(/\d+$/, "");
}

function tradingTime(v: unknown): TradingTime {
  const tt = v as Partial<TradingTime>;
  return { day: tt.day ?? [], night: tt.night ?? [] };
}

function from2019(symbols: Record<string, Raw>, exchange: string, product: string): Base | undefined {
  // Static fields: the live contract with the largest open interest. Reference price: its last price, or
  // (when it is "-", as for jd and AP) the last price of the most recently expired contract that has one.
  let best: Raw | undefined;
  let priced: Raw | undefined;
  for (const info of Object.values(symbols)) {
    if (info.class !== "FUTURE" || info.exchange_id !== exchange || info.product_id !== product) continue;
    const price = num(info.last_price);
    if (!info.expired) {
      if (!best || (num(info.open_interest) ?? 0) > (num(best.open_interest) ?? 0)) best = info;
    } else if (price !== undefined && price > 0) {
      if (!priced || num(info.expire_datetime)! > num(priced.expire_datetime)!) priced = info;
    }
  }
  if (!best) return undefined;
  const ownPrice = num(best.last_price);
  const priceFrom = ownPrice !== undefined && ownPrice > 0 ? best : priced;
  if (!priceFrom) return undefined;
  const maxMarket = num(best.max_market_order_volume) ?? 0;
  return {
    product_short_name: String(best.product_short_name),
    ins_name_prefix: namePrefix(String(best.ins_name)),
    class: "FUTURE",
    price_tick: num(best.price_tick)!,
    price_decs: num(best.price_decs)!,
    volume_multiple: num(best.volume_multiple)!,
    margin: round(num(best.margin)!, 3),
    commission: round(num(best.commission)!, 3),
    max_limit_order_volume: num(best.max_limit_order_volume) ?? 0,
    max_market_order_volume: maxMarket,
    min_limit_order_volume: num(best.min_limit_order_volume) ?? 1,
    min_market_order_volume: num(best.min_market_order_volume) ?? (maxMarket > 0 ? 1 : 0),
    trading_time: tradingTime(best.trading_time),
    last_price: num(priceFrom.last_price)!,
    pre_volume: num(best.pre_volume) ?? 0,
    open_interest: num(best.open_interest) ?? 0,
    sort_key: num(best.sort_key) ?? 0,
    py: String(best.py ?? ""),
    mmsa: num(best.mmsa) ?? 0,
    source: `tqsdk-symbols-2019:${best.instrument_id}` +
      (priceFrom === best ? "" : ` (last_price from ${priceFrom.instrument_id})`),
  };
}

/** Overlay the 2025 sandbox quote of a product onto its 2019 template. */
function overlay2025(base: Base, quote: Raw): Base {
  const pre = num(quote.pre_settlement)!;
  const upper = num(quote.upper_limit)!;
  return {
    ...base,
    ins_name_prefix: namePrefix(String(quote.instrument_name)),
    price_tick: num(quote.price_tick)!,
    price_decs: num(quote.price_decs)!,
    volume_multiple: num(quote.volume_multiple)!,
    margin: round(num(quote.margin)!, 3),
    commission: round(num(quote.commission)!, 3),
    max_limit_order_volume: num(quote.max_limit_order_volume)!,
    max_market_order_volume: num(quote.max_market_order_volume)!,
    min_limit_order_volume: num(quote.min_limit_order_volume)!,
    min_market_order_volume: num(quote.min_market_order_volume)!,
    trading_time: tradingTime(quote.trading_time),
    last_price: num(quote.last_price)!,
    pre_volume: num(quote.volume) ?? 0,
    open_interest: num(quote.open_interest) ?? 0,
    limit_ratio: round((upper - pre) / pre, 3),
    source: `sandbox-quotes-2025:${quote.instrument_id}`,
  };
}

async function xzLzma(path: string): Promise<string> {
  const out = await new Deno.Command("xz", { args: ["--format=lzma", "-dc", path], stdout: "piped" })
    .output();
  if (!out.success) throw new Error(`xz failed on ${path}`);
  return new TextDecoder().decode(out.stdout);
}

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

/** Build the catalogue data from the fixtures directory. */
export async function buildCatalogueData(fixtures: string): Promise<CatalogueData> {
  const symbols = JSON.parse(await xzLzma(`${fixtures}/tqsdk-python-symbols/2019-07-03.json.lzma`)) as Record<
    string,
    Raw
  >;
  const quotes = parseFrame(await Deno.readTextFile(`${fixtures}/sandbox-quotes-2025/quotes.json`)) as Record<
    string,
    Raw
  >;
  const quoteByProduct = new Map(Object.values(quotes).map((q) => [`${q.exchange_id}.${q.product_id}`, q]));
  const products: ProductTemplate[] = [];
  for (const spec of SPECS) {
    const key = `${spec.exchange}.${spec.product}`;
    let base = from2019(symbols, spec.exchange, spec.product) ?? MANUAL[key];
    if (!base) throw new Error(`no source for ${key}`);
    const quote = quoteByProduct.get(key);
    if (quote) base = overlay2025(base, quote);
    const { limit_ratio, ...rest } = base;
    products.push({
      exchange_id: spec.exchange,
      product_id: spec.product,
      ...rest,
      limit_ratio: limit_ratio ?? spec.limitRatio ?? LIMIT_RATIO[spec.exchange],
      months: spec.months,
      expiry: spec.expiry,
    });
  }
  return {
    comment:
      "Generated by tools/build_catalogue.ts from /work/shared/fixtures (sandbox-quotes-2025 overrides " +
      "tqsdk-python-symbols 2019-07-03; INE.lu/nr typed in). Product templates, not dated contracts: " +
      "lib/sim/catalogue.ts rolls them into contracts for a clock. Do not edit by hand.",
    expire_seconds_of_day: 15 * 3600,
    products,
  };
}

/** One product per line: small and diff-friendly. */
function render(data: CatalogueData): string {
  const lines = data.products.map((p) => "    " + JSON.stringify(p));
  return `{\n  "comment": ${
    JSON.stringify(data.comment)
  },\n  "expire_seconds_of_day": ${data.expire_seconds_of_day},\n` +
    `  "products": [\n${lines.join(",\n")}\n  ]\n}\n`;
}

if (import.meta.main) {
  const fixtures = arg("--fixtures", "/work/shared/fixtures");
  const out = arg("--out", new URL("../lib/sim/catalogue_data.json", import.meta.url).pathname);
  const data = await buildCatalogueData(fixtures);
  const text = render(data);
  await Deno.writeTextFile(out, text);
  console.log(`wrote ${out}: ${data.products.length} products, ${text.length} bytes`);
}
