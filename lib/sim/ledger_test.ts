import { assertEquals } from "../../tests/assert.ts";
import {
  adjustFrozen,
  applyClose,
  applyOpen,
  closableLots,
  comparePrices,
  decimalsOf,
  isTickMultiple,
  newAccount,
  newPosition,
  type PositionMeta,
  priceUnits,
  recomputeAccount,
  revalue,
  rollPosition,
  roundMoney,
} from "./ledger.ts";

const RB: PositionMeta = { product_id: "rb", volume_multiple: 10, margin: 4000, commission: 2.5 };

Deno.test("roundMoney: 8 places, no -0, no float noise", () => {
  assertEquals(roundMoney(0.1 + 0.2), 0.3);
  assertEquals(roundMoney(3512.2 * 300), 1053660);
  assertEquals(Object.is(roundMoney(-0.000000001), 0), true);
  assertEquals(roundMoney(1 / 3), 0.33333333);
  assertEquals(roundMoney(123456789012.125), 123456789012.125);
});

Deno.test("decimalsOf / priceUnits / isTickMultiple decide in integer units", () => {
  assertEquals([decimalsOf(1), decimalsOf(0.2), decimalsOf(0.005), decimalsOf(1e-7), decimalsOf(2.5e-7)], [
    0,
    1,
    3,
    7,
    8,
  ]);
  assertEquals(priceUnits(3500.2, 1), 35002);
  assertEquals(priceUnits(3500.25, 1), undefined);
  assertEquals(isTickMultiple(3500.2, 0.2), true);
  assertEquals(isTickMultiple(3500.3, 0.2), false);
  assertEquals(isTickMultiple(0.1 + 0.2, 0.1), true);
  assertEquals(isTickMultiple(5, 0.5), true);
  assertEquals(isTickMultiple(5.25, 0.5), false);
  assertEquals(isTickMultiple(3501, 2), false);
  assertEquals(isTickMultiple(3502, 2), true);
  assertEquals(isTickMultiple(NaN, 1), false);
  assertEquals(isTickMultiple(100, 0), false);
  assertEquals(Math.sign(comparePrices(0.1 + 0.2, 0.3, 0.1)), 0);
  assertEquals(Math.sign(comparePrices(3500.2, 3500.4, 0.2)), -1);
});

Deno.test("applyOpen/applyClose: pro-rata cost at an odd average price adds up exactly", () => {
  const p = newPosition("u", "SHFE.rb2605", 3500);
  applyOpen(p, "long", 1, 3500, RB);
  applyOpen(p, "long", 1, 3501, RB);
  applyOpen(p, "long", 1, 3500, RB);
  assertEquals(p.open_cost_long, 105010);
  assertEquals(p.open_price_long, 3500.33333333);
  adjustFrozen(p, "long", { today: 1, his: 0 }, 1);
  assertEquals(closableLots(p, "long", "today"), 2);
  const first = applyClose(p, "long", { today: 1, his: 0 }, 3510, RB);
  assertEquals(first, 96.66666667);
  assertEquals(p.position_cost_long, 70006.66666667);
  adjustFrozen(p, "long", { today: 2, his: 0 }, 1);
  const rest = applyClose(p, "long", { today: 2, his: 0 }, 3510, RB);
  assertEquals(rest, 193.33333333);
  assertEquals(roundMoney(first + rest), 290); // (3510 * 3 * 10) - 105010
  assertEquals([p.volume_long, p.open_cost_long, p.position_cost_long, p.margin_long], [0, 0, 0, 0]);
  assertEquals([p.open_price_long, p.float_profit_long], [0, 0]);
});

Deno.test("short side: profit when the price falls; revalue follows last_price", () => {
  const p = newPosition("u", "SHFE.rb2605", 3500);
  applyOpen(p, "short", 2, 3500, RB);
  p.last_price = 3480;
  revalue(p, RB);
  assertEquals(p.float_profit_short, 400);
  assertEquals(p.position_profit, 400);
  assertEquals(p.margin_short, 8000);
  adjustFrozen(p, "short", { today: 1, his: 0 }, 1);
  assertEquals(applyClose(p, "short", { today: 1, his: 0 }, 3490, RB), 100);
  assertEquals(p.float_profit_short, 200); // 1 lot: 3500 - 3480
});

Deno.test("rollPosition: today → his, position price reset to last, float profit kept", () => {
  const p = newPosition("u", "SHFE.rb2605", 3500);
  applyOpen(p, "long", 2, 3500, RB);
  p.last_price = 3520;
  rollPosition(p, RB);
  assertEquals([p.volume_long_today, p.volume_long_his, p.pos_long_his, p.volume_long_yd], [0, 2, 2, 2]);
  assertEquals(p.position_price_long, 3520);
  assertEquals(p.position_profit_long, 0);
  assertEquals(p.float_profit_long, 400);
  assertEquals(p.open_price_long, 3500);
});

Deno.test("recomputeAccount: balance, available, big-side margin per exchange.product", () => {
  const a = newAccount("u", 1_000_000);
  a.close_profit = 300;
  a.commission = 7.55;
  const long = newPosition("u", "DCE.m2609", 3000);
  const short = newPosition("u", "DCE.m2605", 3000);
  const other = newPosition("u", "SHFE.rb2605", 3500);
  const m: PositionMeta = { product_id: "m", volume_multiple: 10, margin: 3000, commission: 1.51 };
  applyOpen(long, "long", 2, 3000, m);
  applyOpen(short, "short", 3, 3010, m);
  applyOpen(other, "long", 1, 3500, RB);
  recomputeAccount(a, [
    { position: long, meta: m, exchange_id: "DCE" },
    { position: short, meta: m, exchange_id: "DCE" },
    { position: other, meta: RB, exchange_id: "SHFE" },
  ], { margin: 1000, commission: 0, premium: 0 });
  assertEquals(a.margin, 9000 + 4000); // max(6000, 9000) + 4000
  assertEquals(a.position_profit, 300); // short 3 lots: (3010 - 3000) * 3 * 10
  assertEquals(a.static_balance, 1_000_000);
  assertEquals(a.balance, 1000592.45);
  assertEquals(a.available, 1000592.45 - 13000 - 1000);
  assertEquals(a.risk_ratio, 13000 / 1000592.45);
});
