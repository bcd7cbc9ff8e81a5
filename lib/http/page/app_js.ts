/**
 * The live page's script, served at `/page/app.js` (embedded: no build step, no CDN). Plain ES2017 in
 * one closure: it keeps the bearer token in `sessionStorage`, follows `/ws` (authenticating with the
 * `tbc.bearer` + `tbc.token.<base64url>` subprotocols), reads `/orders`, `/orders/{id}`, `/kill-switch`,
 * `/intraday` and `/health`, submits and cancels orders and sets the kill switch, and draws the intraday
 * chart of balance (left axis) and net positions per symbol (right axis) on a canvas by hand.
 *
 * - Times are shown at exchange time: a local timestamp plus `/health`'s `market_detail.exchange_offset_ms`
 *   (the newest quote's time against the server clock: ≈ 0 live, the sim's own clock in sim mode), written
 *   in China time (UTC+8, no daylight saving), whatever the browser's time zone.
 * - `/health` is polled every 3 s and again soon after the first snapshot and each position or order change,
 *   so the market pill follows the instruments as they become known.
 * - Messages are a toast (`#message`): info fades after 4 s, errors after 10 s; a click dismisses it.
 * - An event's `msg` is shown as `key: value` pairs that wrap, not as raw JSON.
 *
 * @module
 */

/** JavaScript text. */
export const PAGE_JS: string = String.raw`
"use strict";
(function () {
  var TERMINAL = { FILLED: 1, CANCELED: 1, REJECTED: 1 };
  var portfolio = document.querySelector('meta[name="tbc-portfolio"]').content;
  var state = {
    token: sessionStorage.getItem("tbc.token") || "",
    positions: {},
    account: null,
    status: null,
    tradingDay: "",
    orders: [],
    selected: null,
    series: [],
    ws: null,
    wsOpen: false,
    retry: 500,
    killMode: null,
    exOffset: 0,
  };
  var $ = function (sel) { return document.querySelector(sel); };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "class") e.className = attrs[k];
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function td(text, cls) { return el("td", { text: text == null ? "" : String(text), class: cls || "" }); }
  function num(v, digits) {
    if (v == null || v === "" || !isFinite(v)) return "";
    return Number(v).toLocaleString("en-US", { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });
  }
  function pill(id, text, kind) { var p = $(id); p.textContent = text; p.className = "pill" + (kind ? " " + kind : ""); }
  var messageTimer = null;
  function message(text, kind, sticky) {
    var m = $("#message");
    if (messageTimer) { clearTimeout(messageTimer); messageTimer = null; }
    kind = kind === true ? "error" : kind || "";
    m.textContent = text || "";
    m.className = kind;
    if (text && !sticky) {
      messageTimer = setTimeout(function () {
        m.className = kind + " fading";
        messageTimer = setTimeout(function () { messageTimer = null; m.textContent = ""; m.className = ""; }, 300);
      }, kind === "error" ? 10000 : 4000);
    }
  }
  // exchange time of a local epoch-ms timestamp, as HH:MM:SS (China time, UTC+8)
  var CHINA_MS = 8 * 3600 * 1000;
  function exTime(ms, withMillis) {
    if (ms == null || !isFinite(ms)) return "";
    return new Date(ms + state.exOffset + CHINA_MS).toISOString().slice(11, withMillis ? 23 : 19);
  }
  function exTimeOf(iso, withMillis) { return iso ? exTime(Date.parse(iso), withMillis) : ""; }

  function b64url(text) {
    var bytes = new TextEncoder().encode(text), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (state.token) headers["Authorization"] = "Bearer " + state.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (res) {
        return res.text().then(function (text) {
          var json = null;
          try { json = text ? JSON.parse(text) : null; } catch (_e) { json = { error: text }; }
          if (res.status === 401 || res.status === 403) {
            message((json && (json.message || json.error)) + " (" + res.status + "): enter a token with the right scope", true);
          }
          return { status: res.status, ok: res.ok, json: json };
        });
      });
  }

  // ---- stream ------------------------------------------------------------------------------------------
  function connect() {
    if (state.ws) { try { state.ws.close(); } catch (_e) { /* closed */ } }
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
    var ws = state.token ? new WebSocket(url, ["tbc.bearer", "tbc.token." + b64url(state.token)]) : new WebSocket(url);
    state.ws = ws;
    pill("#stream-state", "stream: connecting", "warn");
    ws.onopen = function () { state.wsOpen = true; state.retry = 500; pill("#stream-state", "stream: live", "ok"); };
    ws.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (_e) { return; }
      onStream(msg);
    };
    ws.onclose = function (ev) {
      if (state.ws !== ws) return;
      state.wsOpen = false;
      pill("#stream-state", "stream: down" + (ev.code ? " (" + ev.code + ")" : ""), "bad");
      setTimeout(connect, state.retry);
      state.retry = Math.min(state.retry * 2, 10000);
    };
  }

  function onStream(msg) {
    if (msg.type === "snapshot") {
      state.positions = {};
      (msg.positions || []).forEach(function (p) { state.positions[p.symbol] = p; });
      state.account = msg.account;
      state.status = msg.status;
      state.tradingDay = msg.trading_day || "";
      renderAll();
      loadOrders();
      loadSeries();
      scheduleHealth();
    } else if (msg.type === "position") {
      state.positions[msg.position.symbol] = msg.position;
      renderPositions(); sample(); scheduleHealth();
    } else if (msg.type === "account") {
      state.account = msg.account;
      renderAccount(); sample();
    } else if (msg.type === "status") {
      state.status = msg.status;
      if (msg.status.trading_day) state.tradingDay = msg.status.trading_day;
      renderStatus();
    } else if (msg.type === "order") {
      scheduleOrders(); scheduleHealth();
    }
  }

  // ---- rendering ---------------------------------------------------------------------------------------
  function renderStatus() {
    var s = state.status;
    if (!s) { pill("#broker-state", "broker: unknown", "warn"); return; }
    var kind = s.ready ? "ok" : s.alarm ? "bad" : "warn";
    pill("#broker-state", "broker: " + s.phase + (s.reconnects ? " (" + s.reconnects + " reconnects)" : ""), kind);
    pill("#trading-day", "day: " + (state.tradingDay || s.trading_day || "-"));
  }
  function renderPositions() {
    var body = $("#positions tbody");
    body.textContent = "";
    var symbols = Object.keys(state.positions).sort();
    if (symbols.length === 0) { body.appendChild(el("tr", {}, [el("td", { colspan: "7", class: "empty", text: "no positions" })])); }
    symbols.forEach(function (sym) {
      var p = state.positions[sym];
      body.appendChild(el("tr", { "data-symbol": sym }, [
        td(sym), td(p.net, p.net > 0 ? "BUY" : p.net < 0 ? "SELL" : ""), td(p.long), td(p.short),
        td(num(p.last_price, 1)), td(num(p.float_profit, 2)), td(num(p.margin, 2)),
      ]));
    });
  }
  function renderAccount() {
    var dl = $("#account");
    dl.textContent = "";
    var a = state.account;
    if (!a) { dl.appendChild(el("dd", { class: "empty", text: "no account yet" })); return; }
    [["balance", a.balance], ["available", a.available], ["margin", a.margin], ["frozen margin", a.frozen_margin],
      ["risk ratio", (a.risk_ratio * 100).toFixed(2) + " %"], ["float P/L", a.float_profit],
      ["position P/L", a.position_profit], ["close P/L", a.close_profit], ["commission", a.commission]]
      .forEach(function (kv) {
        dl.appendChild(el("dt", { text: kv[0] }));
        dl.appendChild(el("dd", { id: "acct-" + kv[0].replace(/[^a-z]/g, "_"), text: typeof kv[1] === "number" ? num(kv[1], 2) : kv[1] }));
      });
  }
  function priceText(o) { return o.limit_price == null ? "market" : num(o.limit_price, 2); }
  function renderOrders() {
    var working = $("#working tbody"), recent = $("#recent tbody");
    working.textContent = ""; recent.textContent = "";
    var open = state.orders.filter(function (o) { return !TERMINAL[o.status]; });
    if (open.length === 0) working.appendChild(el("tr", {}, [el("td", { colspan: "8", class: "empty", text: "no working orders" })]));
    open.forEach(function (o) {
      var btn = el("button", { class: "small danger", "data-cancel": o.id, text: "Cancel", onclick: function (ev) { ev.stopPropagation(); cancel(o.id); } });
      working.appendChild(el("tr", { class: "clickable", "data-order": o.id, onclick: function () { showEvents(o.id); } }, [
        td(o.id), td(o.status, "st-" + o.status), td(o.symbol), td((o.direction || "") + " " + (o.offset || ""), o.direction),
        td(o.volume), td(o.filled_quantity), td(priceText(o)), el("td", {}, [btn]),
      ]));
    });
    state.orders.slice(0, 30).forEach(function (o) {
      recent.appendChild(el("tr", { class: "clickable" + (state.selected === o.id ? " selected" : ""), "data-order": o.id, onclick: function () { showEvents(o.id); } }, [
        td(o.id), td(o.status, "st-" + o.status), td(o.symbol), td((o.direction || "") + " " + (o.offset || ""), o.direction),
        td(o.volume), td(o.filled_quantity), td(num(o.avg_fill_price, 2)), td(exTimeOf(o.updated_at)),
      ]));
    });
  }
  function renderAll() { renderStatus(); renderPositions(); renderAccount(); renderOrders(); drawChart(); }

  // ---- orders --------------------------------------------------------------------------------------------
  // An order message on /ws can arrive before PostgreSQL has the change (the tracker writes through an
  // outbox): reload soon, and once more a little later.
  var ordersTimer = null, ordersFollowUp = null;
  function scheduleOrders() {
    if (!ordersTimer) ordersTimer = setTimeout(function () { ordersTimer = null; loadOrders(); }, 150);
    if (ordersFollowUp) clearTimeout(ordersFollowUp);
    ordersFollowUp = setTimeout(function () { ordersFollowUp = null; loadOrders(); }, 1000);
  }
  function loadOrders() {
    return api("GET", "/orders?limit=100").then(function (r) {
      if (r.ok) { state.orders = r.json.orders || []; renderOrders(); if (state.selected) showEvents(state.selected, true); }
    }).catch(function (e) { message("orders: " + e.message, true); });
  }
  function showEvents(id, quiet) {
    state.selected = id;
    $("#events-of").textContent = "of " + id;
    return api("GET", "/orders/" + encodeURIComponent(id)).then(function (r) {
      var box = $("#events");
      if (!r.ok) { if (!quiet) message("order " + id + ": " + (r.json && r.json.error), true); return; }
      box.textContent = "";
      (r.json.events || []).forEach(function (e) {
        var msg = e.msg || {};
        box.appendChild(el("div", { class: "ev", "data-status": e.status }, [
          el("div", { class: "ev-head" }, [
            el("span", { class: "st-" + e.status, text: "#" + e.seq + " " + e.status }),
            msg.event ? el("span", { class: "ev-name", text: String(msg.event) }) : null,
            el("span", { class: "ev-time", text: exTimeOf(e.created_at, true) }),
          ]),
          eventFields(msg),
        ]));
      });
      (r.json.trades || []).forEach(function (t) {
        box.appendChild(el("div", { class: "ev fill" }, ["fill " + (t.volume) + " @ " + (t.price) + " (" + (t.trade_id) + ")"]));
      });
      if (!quiet) renderOrders();
    });
  }
  // an event's msg as wrapped key: value pairs (its "event" name is in the head line)
  function eventFields(msg) {
    var keys = Object.keys(msg).filter(function (k) { return k !== "event"; });
    if (keys.length === 0) return null;
    return el("div", { class: "ev-msg" }, keys.map(function (k) {
      var v = msg[k];
      var text = v === null ? "null" : typeof v === "object" ? JSON.stringify(v) : String(v);
      return el("span", {}, [el("span", { class: "k", text: k + ": " }), text]);
    }));
  }
  function submitOrder(ev) {
    ev.preventDefault();
    var f = ev.target;
    var body = {
      symbol: f.symbol.value.trim(), direction: f.direction.value, offset: f.offset.value,
      volume: Number(f.volume.value), portfolio_id: portfolio,
      order_id: "web-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 6),
    };
    if (f.limit_price.value !== "") body.limit_price = Number(f.limit_price.value);
    api("POST", "/orders", body).then(function (r) {
      if (r.status === 202) message("order " + body.order_id + ": " + r.json.order.status);
      else if (r.status !== 401 && r.status !== 403) message("order " + body.order_id + " (" + r.status + "): " + (r.json && r.json.error), true);
      loadOrders();
    }).catch(function (e) { message("submit: " + e.message, true); });
  }
  function cancel(id) {
    api("DELETE", "/orders/" + encodeURIComponent(id)).then(function (r) {
      if (r.status === 202) message("cancel of " + id + " sent");
      else if (r.status !== 401 && r.status !== 403) message("cancel " + id + " (" + r.status + "): " + (r.json && r.json.error), true);
      loadOrders();
    });
  }

  // ---- kill switch ---------------------------------------------------------------------------------------
  function renderKill(j) {
    var e = j && (j.portfolio || j.kill_switch) || null;
    var mode = e && e.mode;
    state.killMode = mode || null;
    var s = $("#kill-state");
    var symbols = (j && j.symbols || []).filter(function (x) { return x.mode !== "OFF"; })
      .map(function (x) { return x.symbol + ":" + x.mode; });
    s.textContent = mode ? mode + (e.reason ? " (" + e.reason + ")" : "") + (symbols.length ? " · " + symbols.join(", ") : "") : "unavailable";
    s.className = mode && mode !== "OFF" ? "on" : "";
  }
  function loadKill() {
    return api("GET", "/kill-switch").then(function (r) {
      if (r.ok) renderKill(r.json); else $("#kill-state").textContent = r.status === 404 ? "not available" : "?";
    }).catch(function () { $("#kill-state").textContent = "?"; });
  }
  function applyKill() {
    var body = { mode: $("#kill-mode").value, reason: $("#kill-reason").value || "set from the live page" };
    api("PUT", "/kill-switch", body).then(function (r) {
      if (r.ok) { message("kill switch set to " + body.mode + (r.json && r.json.flatten ? " (flatten started)" : "")); loadKill(); }
      else if (r.status !== 401 && r.status !== 403) message("kill switch (" + r.status + "): " + (r.json && r.json.error), true);
    });
  }

  // ---- health --------------------------------------------------------------------------------------------
  // why /health says it cannot trade, in a few words
  function blocker(j) {
    var c = j.components || {};
    if (c.lease && c.lease.ok === false) return c.lease.role === "standby" ? "standby" : "taking over";
    if (c.database && c.database.reachable === false) return "database unreachable";
    if (c.tq && !c.tq.ready) return "broker " + c.tq.state;
    return "cannot trade";
  }
  function loadHealth() {
    return fetch("/health").then(function (r) { return r.json().then(function (j) { return { status: r.status, json: j }; }); })
      .then(function (h) {
        var j = h.json;
        var cannot = h.status === 503;
        pill("#health-state", "health: " + (cannot ? blocker(j) : j.status), cannot ? "bad" : j.status === "ok" ? "ok" : "warn");
        if (j.market) pill("#market-state", "market: " + j.market, j.market === "open" ? "ok" : "");
        var d = j.market_detail;
        if (d && isFinite(d.exchange_offset_ms)) {
          var moved = Math.abs(d.exchange_offset_ms - state.exOffset) > 1000;
          state.exOffset = d.exchange_offset_ms;
          $("#market-state").title = "exchange time " + exTime(Date.now()) + (d.next_open ? " · next open " + exTimeOf(d.next_open) : "");
          if (moved) { scheduleDraw(); renderOrders(); }
        }
      }).catch(function () { pill("#health-state", "health: unreachable", "bad"); });
  }
  var healthTimer = null;
  function scheduleHealth() {
    if (!healthTimer) healthTimer = setTimeout(function () { healthTimer = null; loadHealth(); }, 300);
  }

  // ---- intraday chart ------------------------------------------------------------------------------------
  function loadSeries() {
    return api("GET", "/intraday").then(function (r) {
      if (r.ok && r.json && Array.isArray(r.json.points)) { state.series = r.json.points; drawChart(); }
    });
  }
  function sample() {
    if (!state.account) return;
    var nets = {};
    Object.keys(state.positions).forEach(function (s) { nets[s] = state.positions[s].net; });
    var last = state.series[state.series.length - 1];
    var point = { t: Date.now(), balance: state.account.balance, nets: nets };
    if (last && point.t - last.t < 1000) state.series[state.series.length - 1] = point; else state.series.push(point);
    if (state.series.length > 5000) state.series.shift();
    scheduleDraw();
  }
  var drawPending = false;
  function scheduleDraw() { if (!drawPending) { drawPending = true; requestAnimationFrame(function () { drawPending = false; drawChart(); }); } }
  var COLORS = ["#58a6ff", "#3fb950", "#d29922", "#f85149", "#bc8cff", "#39c5cf"];
  function drawChart() {
    var c = $("#chart"), ctx = c.getContext("2d");
    var w = c.clientWidth || 1200, h = c.clientHeight || 220, dpr = window.devicePixelRatio || 1;
    c.width = w * dpr; c.height = h * dpr; ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px system-ui, sans-serif";
    var pts = state.series, legend = $("#legend");
    legend.textContent = "";
    if (pts.length === 0) { ctx.fillStyle = "#8b98a5"; ctx.fillText("no data yet", 10, 20); return; }
    var L = 80, R = 50, T = 10, B = 22, pw = w - L - R, ph = h - T - B;
    var t0 = pts[0].t, t1 = Math.max(pts[pts.length - 1].t, t0 + 60000);
    var bmin = Infinity, bmax = -Infinity, nmin = 0, nmax = 0, syms = {};
    pts.forEach(function (p) {
      bmin = Math.min(bmin, p.balance); bmax = Math.max(bmax, p.balance);
      Object.keys(p.nets || {}).forEach(function (s) { syms[s] = 1; nmin = Math.min(nmin, p.nets[s]); nmax = Math.max(nmax, p.nets[s]); });
    });
    if (bmax - bmin < 1) { bmin -= 1; bmax += 1; }
    if (nmax - nmin < 1) { nmax += 1; nmin -= 1; }
    var x = function (t) { return L + (t - t0) / (t1 - t0) * pw; };
    var yb = function (v) { return T + (1 - (v - bmin) / (bmax - bmin)) * ph; };
    var yn = function (v) { return T + (1 - (v - nmin) / (nmax - nmin)) * ph; };
    ctx.strokeStyle = "#2a3540"; ctx.lineWidth = 1; ctx.fillStyle = "#8b98a5";
    for (var i = 0; i <= 4; i++) {
      var yy = T + i * ph / 4;
      ctx.beginPath(); ctx.moveTo(L, yy); ctx.lineTo(L + pw, yy); ctx.stroke();
      ctx.textAlign = "right"; ctx.fillText(num(bmax - i * (bmax - bmin) / 4, 0), L - 6, yy + 4);
      ctx.textAlign = "left"; ctx.fillText(num(nmax - i * (nmax - nmin) / 4, 1), L + pw + 6, yy + 4);
    }
    ctx.textAlign = "center";
    var axis = [];
    for (var k = 0; k <= 4; k++) {
      var tt = t0 + k * (t1 - t0) / 4;
      axis.push(exTime(tt));
      ctx.fillText(axis[k], x(tt), h - 6);
    }
    c.setAttribute("data-axis", axis.join(" "));
    // net positions: step lines on the right axis
    Object.keys(syms).sort().forEach(function (s, idx) {
      var color = COLORS[(idx + 1) % COLORS.length];
      ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.beginPath();
      var prev = null;
      pts.forEach(function (p) {
        var v = p.nets && p.nets[s] != null ? p.nets[s] : 0;
        if (prev === null) ctx.moveTo(x(p.t), yn(v)); else { ctx.lineTo(x(p.t), yn(prev)); ctx.lineTo(x(p.t), yn(v)); }
        prev = v;
      });
      ctx.lineTo(x(t1), yn(prev)); ctx.stroke();
      legend.appendChild(el("span", { style: "color:" + color, text: "net " + s }));
    });
    // balance: line on the left axis
    ctx.strokeStyle = COLORS[0]; ctx.lineWidth = 2; ctx.beginPath();
    pts.forEach(function (p, j) { if (j === 0) ctx.moveTo(x(p.t), yb(p.balance)); else ctx.lineTo(x(p.t), yb(p.balance)); });
    ctx.stroke();
    legend.insertBefore(el("span", { style: "color:" + COLORS[0], text: "balance " + num(pts[pts.length - 1].balance, 2) }), legend.firstChild);
  }

  // ---- start ---------------------------------------------------------------------------------------------
  $("#token").value = state.token;
  $("#token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    state.token = $("#token").value.trim();
    sessionStorage.setItem("tbc.token", state.token);
    message(state.token ? "token set" : "token cleared");
    connect(); loadOrders(); loadKill(); loadSeries(); loadHealth();
  });
  $("#order-form").addEventListener("submit", submitOrder);
  $("#kill-apply").addEventListener("click", applyKill);
  window.addEventListener("resize", scheduleDraw);
  renderAll();
  loadHealth();
  // probe once: with authentication on and no (valid) token, ask for one instead of failing repeatedly
  api("GET", "/intraday").then(function (r) {
    if (r.status === 401) { pill("#stream-state", "stream: needs token", "warn"); message("enter the bearer token (http.token, or http.read_token to only watch)", "warn", true); return; }
    if (r.ok && r.json && Array.isArray(r.json.points)) { state.series = r.json.points; }
    connect(); loadOrders(); loadKill();
  });
  setInterval(loadHealth, 3000);
  setInterval(function () {
    if (state.wsOpen && state.orders.some(function (o) { return !TERMINAL[o.status]; })) loadOrders();
  }, 3000);
  setInterval(function () { if (state.account) sample(); }, 15000);
})();
`;
