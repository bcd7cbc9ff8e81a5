import { assert, assertEquals } from "../../tests/assert.ts";
import {
  buildCatalogue,
  catalogueInSession,
  catalogueSymbols,
  contractCode,
  DEFAULT_SIM_CLOCK_MS,
  expireMs,
  limitRatioOf,
  nearestContract,
  PRODUCT_TEMPLATES,
  productTemplate,
} from "./catalogue.ts";

function bj(iso: string): number {
  return Date.parse(`${iso}+08:00`);
}

const REQUIRED_FIELDS = [
  "class",
  "instrument_id",
  "exchange_id",
  "ins_id",
  "ins_name",
  "product_id",
  "price_tick",
  "price_decs",
  "volume_multiple",
  "expired",
  "expire_datetime",
  "delivery_year",
  "delivery_month",
  "margin",
  "commission",
  "max_limit_order_volume",
  "max_market_order_volume",
  "min_limit_order_volume",
  "min_market_order_volume",
  "trading_time",
  "sort_key",
  "py",
  "mmsa",
  "last_price",
  "pre_volume",
  "open_interest",
  "settlement_price",
];

Deno.test("templates: product list covers the five exchanges and the embedded JSON is small", async () => {
  const keys = PRODUCT_TEMPLATES.map((t) => `${t.exchange_id}.${t.product_id}`);
  for (
    const k of [
      "SHFE.rb",
      "SHFE.cu",
      "SHFE.au",
      "SHFE.ag",
      "SHFE.fu",
      "INE.sc",
      "INE.lu",
      "INE.nr",
      "DCE.m",
      "DCE.jd",
      "CZCE.SR",
      "CZCE.AP",
      "CFFEX.IF",
      "CFFEX.TF",
    ]
  ) assert(keys.includes(k), `missing ${k}`);
  assert(keys.length >= 25 && keys.length <= 35, `product count ${keys.length}`);
  assertEquals(new Set(keys).size, keys.length, "no duplicates");
  const size = (await Deno.stat(new URL("./catalogue_data.json", import.meta.url))).size;
  assert(size < 100_000, `catalogue_data.json is ${size} bytes`);
  for (const t of PRODUCT_TEMPLATES) {
    assert(t.price_tick > 0 && t.volume_multiple > 0 && t.margin > 0 && t.commission > 0, t.product_id);
    assert(t.last_price > 0 && t.limit_ratio > 0 && t.limit_ratio < 0.25, t.product_id);
    assert(t.months.length > 0 && t.months.every((m) => m >= 1 && m <= 12), t.product_id);
    assert(Array.isArray(t.trading_time.day) && Array.isArray(t.trading_time.night), t.product_id);
  }
});

Deno.test("templates: 2025 sandbox values override 2019 ones; night sessions as specified", () => {
  const au = productTemplate("SHFE", "au")!;
  assertEquals([au.price_tick, au.price_decs, au.volume_multiple, au.margin], [0.02, 2, 1000, 38100]);
  assertEquals(au.last_price, 762);
  assertEquals(au.limit_ratio, 0.12, "(853.44 - 762) / 762");
  assertEquals(au.trading_time.night, [["21:00:00", "26:30:00"]]);
  assertEquals(productTemplate("SHFE", "ag")!.trading_time.night, [["21:00:00", "26:30:00"]]);
  assertEquals(productTemplate("SHFE", "cu")!.trading_time.night, [["21:00:00", "25:00:00"]]);
  const rb = productTemplate("SHFE", "rb")!;
  assertEquals([rb.last_price, rb.margin, rb.commission, rb.limit_ratio], [3075, 2433.6, 3.042, 0.05]);
  const m = productTemplate("DCE", "m")!;
  assertEquals([m.last_price, m.margin, m.max_limit_order_volume, m.limit_ratio], [2700, 1376, 1000, 0.06]);
  assertEquals(productTemplate("DCE", "jd")!.trading_time.night, []);
  assertEquals(productTemplate("CZCE", "AP")!.trading_time.night, []);
  assertEquals(productTemplate("CFFEX", "IF")!.trading_time.night, []);
  assertEquals(productTemplate("XXX", "rb"), undefined);
});

Deno.test("contractCode: 4 digits, CZCE 3", () => {
  assertEquals(contractCode({ exchange_id: "SHFE", product_id: "rb" }, { year: 2026, month: 5 }), "rb2605");
  assertEquals(contractCode({ exchange_id: "CZCE", product_id: "SR" }, { year: 2026, month: 5 }), "SR605");
  assertEquals(contractCode({ exchange_id: "CFFEX", product_id: "T" }, { year: 2030, month: 12 }), "T3012");
});

Deno.test("expireMs: expiry rules, weekends roll forward", () => {
  // SHFE: the 15th, 15:00. 2026-02-15 is a Sunday → Monday 16th.
  assertEquals(expireMs(productTemplate("SHFE", "cu")!, { year: 2026, month: 2 }), bj("2026-02-16T15:00:00"));
  assertEquals(expireMs(productTemplate("SHFE", "rb")!, { year: 2026, month: 5 }), bj("2026-05-15T15:00:00"));
  // DCE: the 14th. 2026-03-14 is a Saturday → Monday 16th.
  assertEquals(expireMs(productTemplate("DCE", "m")!, { year: 2026, month: 3 }), bj("2026-03-16T15:00:00"));
  // CFFEX IF: third Friday. January 2026 starts on a Thursday → Fridays 2, 9, 16.
  assertEquals(
    expireMs(productTemplate("CFFEX", "IF")!, { year: 2026, month: 1 }),
    bj("2026-01-16T15:00:00"),
  );
  // CFFEX T: second Friday. March 2026 starts on a Sunday → Fridays 6, 13.
  assertEquals(expireMs(productTemplate("CFFEX", "T")!, { year: 2026, month: 3 }), bj("2026-03-13T15:00:00"));
  // INE sc: last weekday of the previous month. 2026-01-31 is a Saturday → Friday 30th.
  assertEquals(expireMs(productTemplate("INE", "sc")!, { year: 2026, month: 2 }), bj("2026-01-30T15:00:00"));
  // Across a year boundary: sc2601 expires on Wednesday 2025-12-31.
  assertEquals(expireMs(productTemplate("INE", "sc")!, { year: 2026, month: 1 }), bj("2025-12-31T15:00:00"));
});

Deno.test("buildCatalogue at the default sim clock", () => {
  assertEquals(DEFAULT_SIM_CLOCK_MS, bj("2025-12-24T10:00:00"));
  const cat = buildCatalogue(DEFAULT_SIM_CLOCK_MS);
  for (const s of ["SHFE.rb2605", "DCE.m2605", "SHFE.au2606", "SHFE.cu2602", "CZCE.SR605"]) {
    assert(cat[s], `missing ${s}`);
  }
  // Expired (15th of December) and not listed months are absent.
  assertEquals(cat["SHFE.rb2512"], undefined);
  assertEquals(cat["SHFE.au2605"], undefined, "au lists even months only");
  assertEquals(cat["DCE.m2602"], undefined, "m has no February contract");
  // A monthly product lists 12 live contracts: 2601 … 2612.
  assertEquals(catalogueSymbols(cat, { exchangeId: "SHFE", productId: "rb" }), [
    ...Array.from({ length: 12 }, (_, i) => `SHFE.rb26${String(i + 1).padStart(2, "0")}`),
  ]);
  assertEquals(catalogueSymbols(cat, { exchangeId: "SHFE", productId: "au" }), [
    "SHFE.au2602",
    "SHFE.au2604",
    "SHFE.au2606",
    "SHFE.au2608",
    "SHFE.au2610",
    "SHFE.au2612",
  ]);
  assertEquals(catalogueSymbols(cat, { exchangeId: "CFFEX", productId: "T" }), [
    "CFFEX.T2603",
    "CFFEX.T2606",
    "CFFEX.T2609",
    "CFFEX.T2612",
  ]);
  for (const info of Object.values(cat)) {
    for (const f of REQUIRED_FIELDS) assert(f in info, `${info.instrument_id} lacks ${f}`);
    assertEquals(info.expired, false);
    assert(info.expire_datetime * 1000 > DEFAULT_SIM_CLOCK_MS, `${info.instrument_id} is expired`);
    assertEquals(info.class, "FUTURE");
    assertEquals(info.instrument_id, `${info.exchange_id}.${info.ins_id}`);
    assertEquals(info.settlement_price, "-");
  }
  const sr = cat["CZCE.SR605"];
  assertEquals([sr.ins_id, sr.ins_name, sr.delivery_year, sr.delivery_month], ["SR605", "白糖2605", 2026, 5]);
  assertEquals(sr.expire_datetime, bj("2026-05-14T15:00:00") / 1000);
  const rb = cat["SHFE.rb2605"];
  assertEquals([rb.ins_name, rb.price_tick, rb.volume_multiple, rb.margin, rb.commission], [
    "螺纹2605",
    1,
    10,
    2433.6,
    3.042,
  ]);
  assertEquals(rb.expire_datetime, bj("2026-05-15T15:00:00") / 1000);
  assertEquals(rb.trading_time.night, [["21:00:00", "23:00:00"]]);
  // Entries do not share the template's trading_time arrays.
  rb.trading_time.night.push(["00:00:00", "00:00:01"]);
  assertEquals(buildCatalogue(DEFAULT_SIM_CLOCK_MS)["SHFE.rb2605"].trading_time.night.length, 1);
});

Deno.test("buildCatalogue rolls with the clock and honours monthsAhead", () => {
  const clock = bj("2030-03-20T10:00:00");
  const cat = buildCatalogue(clock);
  const symbols = Object.keys(cat);
  assert(symbols.length > 100);
  for (const info of Object.values(cat)) {
    assert(info.delivery_year === 2030 || info.delivery_year === 2031, info.instrument_id);
    assert(info.expire_datetime * 1000 > clock);
  }
  assert(cat["SHFE.rb3004"] && cat["CZCE.SR005"] && cat["CFFEX.IF3004"]);
  assertEquals(cat["SHFE.rb3003"], undefined, "expired on the 15th");
  assertEquals(cat["CFFEX.IF3003"], undefined, "third Friday of March 2030 is the 15th");
  // Same day, before the expiry time: the March contract is still live.
  assert(buildCatalogue(bj("2030-03-15T14:59:59"))["SHFE.rb3003"]);
  assertEquals(buildCatalogue(bj("2030-03-15T15:00:00"))["SHFE.rb3003"], undefined);
  const short = buildCatalogue(clock, { monthsAhead: 2 });
  assertEquals(catalogueSymbols(short, { exchangeId: "SHFE", productId: "rb" }), [
    "SHFE.rb3004",
    "SHFE.rb3005",
  ]);
  assertEquals(catalogueSymbols(short, { exchangeId: "SHFE", productId: "au" }), ["SHFE.au3004"]);
  assertEquals(nearestContract(cat, { exchangeId: "DCE", productId: "m" })?.instrument_id, "DCE.m3005");
  assertEquals(nearestContract(cat, { exchangeId: "DCE", productId: "zz" }), undefined);
});

Deno.test("limitRatioOf and catalogueInSession", () => {
  assertEquals(limitRatioOf({ exchange_id: "SHFE", product_id: "au" }), 0.12);
  assertEquals(limitRatioOf({ exchange_id: "CFFEX", product_id: "T" }), 0.02);
  assertEquals(limitRatioOf({ exchange_id: "DCE", product_id: "unknown" }), 0.07);
  const cat = buildCatalogue(DEFAULT_SIM_CLOCK_MS);
  const inSession = catalogueInSession(cat);
  const nightFri = bj("2025-12-27T00:30:00");
  assert(inSession("SHFE.cu2602", nightFri), "cu trades until 01:00 Saturday");
  assert(!inSession("SHFE.rb2605", nightFri), "rb night ends at 23:00");
  assert(!inSession("DCE.jd2605", bj("2025-12-24T21:30:00")), "jd has no night session");
  assert(inSession("DCE.jd2605", DEFAULT_SIM_CLOCK_MS));
  assert(!inSession("CFFEX.IF2601", bj("2025-12-24T09:15:00")), "IF opens at 09:30");
  assert(!inSession("SHFE.xx2605", DEFAULT_SIM_CLOCK_MS), "unknown symbol");
});
