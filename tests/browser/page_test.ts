/**
 * The live page and the docs page in a real browser: headless Chromium (Debian's package) driven by
 * playwright-core, against a running service (sim exchange, PostgreSQL). Every request that leaves
 * 127.0.0.1 is blocked and counted, so both pages are shown to work on an offline host.
 *
 * Also checked on the live page, at the test's 1400 px width: the recent-orders table fits (no column
 * clipped), the market pill follows the instruments once known, a kill-switch change is a toast, an
 * event's msg reads as `key: value` pairs, and the chart's time axis is at exchange time (the sim's own
 * clock, not the browser's).
 *
 * Skipped (with the reason printed) when /usr/bin/chromium is not installed; `.ci/run` installs it.
 * Screenshots: /tmp/tbc_page.png, /tmp/tbc_docs.png.
 */
import { chromium } from "playwright-core";
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import { eventually, setBook, startTestService, testConfig, testNames } from "../helpers/service.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
if (!haveChromium) {
  console.log(`browser tests skipped: ${CHROMIUM} is not installed (apt-get install -y chromium)`);
}

const TOKEN = "page-" + crypto.randomUUID();

/** A browser context in a fresh user-data folder (removed on close). */
async function launch() {
  const userDataDir = await Deno.makeTempDir({ prefix: "tbc_chromium_" });
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test({
  name:
    "browser: the live page shows a fill arriving live, cancels an order, flips the kill switch; docs load offline",
  ignore: !haveChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const names = testNames("page");
    await withTestDatabase(async (db) => {
      const config = testConfig(names, db, { rabbitmq: false, redis: false });
      config.http.token = TOKEN;
      const service = await startTestService(config);
      const { context, close } = await launch();
      try {
        await eventually("broker ready", () => service.broker?.state().ready);
        const base = service.http!.url;
        const outside: string[] = [];
        await context.route("**/*", (route) => {
          const url = new URL(route.request().url());
          if (url.hostname === "127.0.0.1") return route.continue();
          outside.push(url.href);
          return route.abort();
        });
        const page = await context.newPage();
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(String(e)));
        page.on("console", (m) => {
          // 401s before the token is entered are expected; anything else is an error of the page
          if (m.type() === "error" && !m.text().includes("401")) errors.push(m.text());
        });

        await page.goto(`${base}/`);
        await page.fill("#token", TOKEN);
        await page.click("#token-form button");
        await page.waitForSelector("#stream-state.ok", { timeout: 10_000 });
        await eventually(
          "#broker-state ready",
          async () => (await page.textContent("#broker-state"))?.includes("ready"),
        );
        await page.waitForSelector("#acct-balance");

        await setBook(service);
        // an order that fills at once: its fill arrives over /ws and the position row appears
        await page.fill("#order-form input[name=symbol]", "SHFE.rb2605");
        await page.selectOption("#order-form select[name=direction]", "BUY");
        await page.fill("#order-form input[name=volume]", "2");
        await page.fill("#order-form input[name=limit_price]", "3501");
        await page.click("#submit-order");
        const row = page.locator('#positions tr[data-symbol="SHFE.rb2605"]');
        await row.waitFor({ timeout: 10_000 });
        await eventually(
          "net 2 on the page",
          async () => (await row.locator("td").nth(1).textContent()) === "2",
        );
        await page.waitForSelector("#recent td.st-FILLED", { timeout: 10_000 });

        // a resting order, cancelled from the page
        await page.fill("#order-form input[name=volume]", "1");
        await page.fill("#order-form input[name=limit_price]", "3400");
        await page.click("#submit-order");
        const cancel = page.locator("#working button[data-cancel]");
        await cancel.first().waitFor({ timeout: 10_000 });
        const orderId = await cancel.first().getAttribute("data-cancel");
        assert(orderId?.startsWith("web-"), `${orderId}`);
        await cancel.first().click();
        await page.waitForSelector(`#recent tr[data-order="${orderId}"] td.st-CANCELED`, { timeout: 10_000 });
        assertEquals(await page.locator("#working button[data-cancel]").count(), 0);
        // its events, from PostgreSQL
        await page.click(`#recent tr[data-order="${orderId}"]`);
        await page.waitForSelector('#events div[data-status="CANCELED"]', { timeout: 10_000 });

        // the kill switch (PUT /kill-switch with the token), then back off
        await page.selectOption("#kill-mode", "HALT");
        await page.fill("#kill-reason", "browser test");
        await page.click("#kill-apply");
        await eventually(
          "#kill-state HALT",
          async () => (await page.textContent("#kill-state"))?.startsWith("HALT"),
        );
        assertEquals(service.killSwitch?.state.portfolio().mode, "HALT");
        await eventually(
          "chart legend",
          async () => (await page.textContent("#legend"))?.includes("net SHFE.rb2605"),
        );
        // the change is told in a toast (fixed, styled), not as loose text under the header
        assertEquals(await page.textContent("#message"), "kill switch set to HALT");
        const toast = await page.$eval("#message", (e) => {
          // runs in the page: its window's getComputedStyle
          type Style = { position: string; borderLeftWidth: string };
          const s = (globalThis as unknown as { getComputedStyle(e: unknown): Style }).getComputedStyle(e);
          return { position: s.position, border: s.borderLeftWidth };
        });
        assertEquals(toast, { position: "fixed", border: "4px" });
        // the market pill: the instrument is known now, and the sim's clock is inside its session
        await eventually(
          "market open",
          async () => (await page.textContent("#market-state")) === "market: open",
        );
        // every column of the recent orders is visible (the table fits its box)
        const fit = await page.$eval("#recent", (t) => {
          const box = t.parentElement!.getBoundingClientRect();
          const last = t.querySelector("th:last-child")!.getBoundingClientRect();
          return {
            clipped: t.parentElement!.scrollWidth > t.parentElement!.clientWidth,
            right: last.right,
            box,
          };
        });
        assert(!fit.clipped && fit.right <= fit.box.right + 0.5, JSON.stringify(fit));
        // the events read as key: value pairs, not JSON
        const fields = await page.locator('#events div[data-status="CANCELED"] .ev-msg').first()
          .textContent();
        assert(fields !== null && /\w+: /.test(fields) && !fields.includes('":'), `${fields}`);
        assert((await page.textContent("#events"))?.includes("request_id: "), "no request_id in the events");
        // the chart's time axis is at exchange time: the sim clock's now lies within it
        const health = await (await fetch(`${base}/health`)).json();
        const exNow = Date.parse(health.market_detail.exchange_time) + 8 * 3600_000;
        const secondsOf = (hms: string) => hms.split(":").reduce((a, b) => a * 60 + Number(b), 0);
        const nowS = secondsOf(new Date(exNow).toISOString().slice(11, 19));
        const axis = await eventually("axis drawn", () => page.getAttribute("#chart", "data-axis"));
        const labels = axis.split(" ").map(secondsOf);
        assertEquals(labels.length, 5, axis);
        assert(labels[0] - 5 <= nowS && nowS <= labels[4] + 5, `exchange now ${nowS}s, axis ${axis}`);
        await page.screenshot({ path: "/tmp/tbc_page.png", fullPage: true });
        await page.selectOption("#kill-mode", "OFF");
        await page.click("#kill-apply");
        await eventually(
          "#kill-state OFF",
          async () => (await page.textContent("#kill-state"))?.startsWith("OFF"),
        );

        // the docs page, from the service's own assets
        await page.goto(`${base}/docs`);
        await page.waitForSelector(".swagger-ui .info .title", { timeout: 15_000 });
        assert(
          (await page.locator(".swagger-ui .info .title").textContent())?.includes("tqsdk-broker-connect"),
        );
        await page.waitForSelector(".opblock-summary-path[data-path='/orders']");
        await page.screenshot({ path: "/tmp/tbc_docs.png" });

        assertEquals(outside, [], "requests left the host");
        assertEquals(errors, []);
      } finally {
        await close();
        await service.lifecycle.stop();
      }
    });
  },
});
