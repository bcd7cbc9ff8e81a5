/**
 * The live page's HTML shell, served at `/` (embedded: no build step, no CDN). It holds no account data:
 * the script (`/page/app.js`) fetches everything with the bearer token the operator enters. Layout: a
 * header of status pills, then positions | account, the intraday chart, working orders and the order form
 * | the kill switch, recent orders | the selected order's events; `#message` is a toast.
 *
 * @module
 */

/** Escape text for an HTML attribute or text node. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** The page for a portfolio. */
export function pageHtml(options: { portfolioId: string; title?: string }): string {
  const pf = escapeHtml(options.portfolioId);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="tbc-portfolio" content="${pf}">
<title>${escapeHtml(options.title ?? "tqsdk-broker-connect")} · ${pf}</title>
<link rel="stylesheet" href="/page/app.css">
</head>
<body>
<header>
  <h1>tqsdk-broker-connect <span class="pill" id="portfolio">${pf}</span></h1>
  <span class="pill" id="broker-state" title="broker connection">broker: …</span>
  <span class="pill" id="stream-state" title="live stream (/ws)">stream: …</span>
  <span class="pill" id="market-state" title="trading session">market: …</span>
  <span class="pill" id="health-state" title="/health">health: …</span>
  <span class="pill" id="trading-day">day: …</span>
  <span class="spacer"></span>
  <form id="token-form" autocomplete="off">
    <input id="token" type="password" placeholder="bearer token" size="18" aria-label="bearer token">
    <button type="submit">Use token</button>
  </form>
  <a class="pill" href="/docs">API docs</a>
</header>
<div id="message" role="status" aria-live="polite" title="click to dismiss"></div>
<main>
  <section>
    <h2>Positions</h2>
    <table id="positions"><thead><tr><th>symbol</th><th>net</th><th>long</th><th>short</th><th>last</th>
      <th>float P/L</th><th>margin</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Account</h2>
    <dl class="kv" id="account"></dl>
  </section>
  <section class="wide">
    <h2>Intraday: balance and net positions <span class="dim" id="chart-time">(exchange time)</span></h2>
    <canvas id="chart" width="1200" height="220"></canvas>
    <div class="legend" id="legend"></div>
  </section>
  <section>
    <h2>Working orders</h2>
    <table id="working"><thead><tr><th>order_id</th><th>status</th><th>symbol</th><th>side</th><th>vol</th>
      <th>filled</th><th>price</th><th></th></tr></thead><tbody></tbody></table>
    <h2 style="margin-top:12px">New order</h2>
    <form class="order" id="order-form" autocomplete="off">
      <input name="symbol" placeholder="SHFE.rb2605" required aria-label="symbol">
      <select name="direction" aria-label="direction"><option>BUY</option><option>SELL</option></select>
      <select name="offset" aria-label="offset"><option>OPEN</option><option>CLOSE</option><option>CLOSETODAY</option></select>
      <input name="volume" type="number" min="1" step="1" value="1" required aria-label="volume">
      <input name="limit_price" type="number" step="any" placeholder="limit (empty = market)" aria-label="limit price">
      <button type="submit" id="submit-order">Submit</button>
    </form>
  </section>
  <section>
    <h2>Kill switch: <span id="kill-state">…</span></h2>
    <div class="ks">
      <select id="kill-mode" aria-label="kill switch mode"><option>HALT</option><option>REDUCE_ONLY</option>
        <option>FLATTEN</option><option>OFF</option></select>
      <input id="kill-reason" placeholder="reason" aria-label="kill switch reason">
      <button class="danger" id="kill-apply">Set</button>
    </div>
  </section>
  <section class="wide orders">
    <div>
      <h2>Recent orders</h2>
      <table id="recent"><thead><tr><th>order_id</th><th>status</th><th>symbol</th><th>side</th><th>vol</th>
        <th>filled</th><th>avg</th><th>updated</th></tr></thead><tbody></tbody></table>
    </div>
    <div>
      <h2>Events <span id="events-of"></span></h2>
      <div id="events"><div class="empty">click an order</div></div>
    </div>
  </section>
</main>
<script src="/page/app.js"></script>
</body>
</html>
`;
}
