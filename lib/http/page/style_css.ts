/**
 * The live page's stylesheet, served at `/page/app.css` (embedded: no build step, no CDN).
 *
 * @module
 */

/** CSS text. */
export const PAGE_CSS: string = `
:root { --bg:#0f1419; --panel:#182028; --line:#2a3540; --fg:#d8dee4; --dim:#8b98a5; --buy:#3fb950;
  --sell:#f85149; --warn:#d29922; --accent:#58a6ff;
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; padding: 8px 14px;
  background: var(--panel); border-bottom: 1px solid var(--line); }
header h1 { font-size: 15px; margin: 0 12px 0 0; }
.pill { padding: 2px 8px; border-radius: 10px; background: var(--line); color: var(--dim); white-space: nowrap; }
.pill.ok { background: #1f3d2a; color: var(--buy); }
.pill.bad { background: #4a1f22; color: var(--sell); }
.pill.warn { background: #41341a; color: var(--warn); }
header .spacer { flex: 1; }
input, select, button { font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line);
  border-radius: 4px; padding: 3px 6px; }
button { cursor: pointer; background: #21303d; }
button:hover { border-color: var(--accent); }
button.danger { background: #4a1f22; }
button.small { padding: 1px 6px; font-size: 12px; }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 12px; padding: 12px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; min-width: 0;
  overflow-x: auto; }
section h2 { font-size: 13px; margin: 0 0 6px; color: var(--dim); text-transform: uppercase; letter-spacing: .05em; }
.wide { grid-column: 1 / -1; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 2px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { color: var(--dim); font-weight: 500; }
tr.clickable { cursor: pointer; }
tr.clickable:hover td { background: #1d2833; }
tr.selected td { background: #22303d; }
.BUY { color: var(--buy); } .SELL { color: var(--sell); }
.st-FILLED { color: var(--buy); } .st-REJECTED, .st-UNKNOWN { color: var(--sell); } .st-CANCELED { color: var(--dim); }
.st-ACCEPTED, .st-SUBMITTED, .st-PARTIALLY_FILLED, .st-RECEIVED { color: var(--accent); }
.kv { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; font-variant-numeric: tabular-nums; }
.kv dt { color: var(--dim); } .kv dd { margin: 0; text-align: right; }
form.order { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
form.order input[name=symbol] { width: 120px; } form.order input[type=number] { width: 90px; }
#kill-state { font-weight: 600; }
#kill-state.on { color: var(--sell); }
.ks { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
section.orders { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px; }
section.orders > div { min-width: 0; overflow-x: auto; }
.dim { color: var(--dim); text-transform: none; letter-spacing: 0; font-weight: 400; }
#events { max-height: 320px; overflow: auto; font-size: 12px; }
#events .ev { border-bottom: 1px solid var(--line); padding: 3px 0; }
#events .ev-head { display: flex; gap: 8px; align-items: baseline; }
#events .ev-head .ev-name { font-weight: 600; }
#events .ev-head .ev-time { margin-left: auto; color: var(--dim); font-variant-numeric: tabular-nums; }
#events .ev-msg { display: flex; flex-wrap: wrap; gap: 0 14px; padding-left: 14px; color: var(--fg);
  font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
#events .ev-msg span { overflow-wrap: anywhere; }
#events .ev-msg .k { color: var(--dim); }
#events .fill { color: var(--buy); }
#message { position: fixed; right: 16px; bottom: 16px; z-index: 10; max-width: min(460px, calc(100vw - 32px));
  padding: 8px 12px; background: var(--panel); color: var(--fg); border: 1px solid var(--line);
  border-left: 4px solid var(--accent); border-radius: 6px; box-shadow: 0 4px 16px rgba(0, 0, 0, .45);
  cursor: pointer; overflow-wrap: anywhere; transition: opacity .3s; }
#message:empty { display: none; }
#message.error { border-left-color: var(--sell); color: #ffb3ad; }
#message.warn { border-left-color: var(--warn); }
#message.fading { opacity: 0; }
canvas { width: 100%; height: 220px; display: block; }
.legend { color: var(--dim); font-size: 12px; }
.legend span { margin-right: 12px; }
.empty { color: var(--dim); padding: 6px 0; }
@media (max-width: 900px) { main, section.orders { grid-template-columns: 1fr; } }
`;
