/**
 * Fan-out: a position change reaching `clients` WebSocket clients of `/ws`. Each change is one marketable
 * order; the clock starts when the sim emits the fill (engine event) and stops when a client receives the
 * `position` message of that symbol showing the new lots. The floor, in the same run: a minimal Deno.serve
 * WebSocket server that relays one incoming message (the exchange's frame) to the same number of loopback
 * clients. Clients live in this process in both cases.
 *
 * @module
 */
import { buyRequest, setQuote, sleep, until, withBenchService } from "./harness.ts";
import { ms, signedMs, summarize, type Summary, SUMMARY_HEADER, summaryRow, table } from "./stats.ts";

/** Sizes of a fan-out run. */
export interface FanoutOptions {
  clients: number;
  changes: number;
  gapMs: number;
}

/** What the run measured. */
export interface FanoutResult {
  clients: number;
  changes: number;
  connector: Summary;
  floor: Summary;
  missed: number;
  table: string;
}

const SYMBOL = "SHFE.rb2605";

async function openClients(url: string, n: number, onMessage: (i: number, data: string) => void) {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, (_, j) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.onopen = () => resolve(ws);
          ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
          ws.onmessage = (e) => onMessage(i + j, String(e.data));
        })),
    );
    sockets.push(...batch);
  }
  return sockets;
}

async function closeClients(sockets: WebSocket[]): Promise<void> {
  await Promise.all(sockets.map((ws) =>
    new Promise<void>((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      ws.onclose = () => resolve();
      ws.close();
    })
  ));
}

/** The floor: one frame in, relayed to every client. */
async function floorFanout(o: FanoutOptions, messageSize: number): Promise<Summary> {
  const abort = new AbortController();
  const peers = new Set<WebSocket>();
  let port = 0;
  await new Promise<void>((resolve) => {
    Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: abort.signal,
      onListen: (a) => {
        port = a.port;
        resolve();
      },
    }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      const url = new URL(req.url);
      if (url.pathname === "/feed") {
        // the exchange's frame: relay it to every client
        socket.onmessage = (e) => {
          const text = String(e.data);
          for (const p of peers) p.send(text);
        };
      } else {
        socket.onopen = () => peers.add(socket);
        socket.onclose = () => peers.delete(socket);
      }
      return response;
    });
  });
  const sent: number[] = [];
  const got: number[] = [];
  const seen = new Map<number, number>();
  const clients = await openClients(`ws://127.0.0.1:${port}/ws`, o.clients, (_i, data) => {
    const now = performance.now();
    const k = Number(data.slice(data.indexOf('"k":') + 4, data.indexOf(",")));
    got.push(now - sent[k]);
    seen.set(k, (seen.get(k) ?? 0) + 1);
  });
  await until("floor clients registered", () => peers.size === o.clients, 10_000);
  const feed = new WebSocket(`ws://127.0.0.1:${port}/feed`);
  await new Promise((r) => feed.onopen = r);
  const pad = "x".repeat(Math.max(0, messageSize - 40));
  for (let k = 0; k < o.changes; k++) {
    sent[k] = performance.now();
    feed.send(`{"k":${k},"type":"position","pad":"${pad}"}`);
    await until("floor fan-out", () => (seen.get(k) ?? 0) === o.clients, 10_000, 1);
    await sleep(o.gapMs);
  }
  feed.close();
  await closeClients(clients);
  abort.abort();
  return summarize(got);
}

/** Run the fan-out benchmark; prints its table and returns the result. */
export async function runFanout(o: FanoutOptions): Promise<FanoutResult> {
  return await withBenchService("fan", async ({ service, sim, names, pub, probe }) => {
    await setQuote(sim.baseUrl, SYMBOL, 3500, 3501);
    // one order first so the symbol is subscribed and the position exists
    pub.publish(buyRequest(names.portfolio, "warm-0", SYMBOL, 3501));
    await until("first fill", () => service.broker!.snapshot()?.positions[SYMBOL]?.long === 1, 20_000, 20);

    // Client receipts (long lots, time); the k-th change's order fan-k takes the position to k + 2 lots.
    const arrivals: [number, number][] = [];
    const received = new Map<number, number>();
    let messageSize = 0;
    const url = `${service.http!.url.replace(/^http/, "ws")}/ws`;
    const clients = await openClients(url, o.clients, (_i, data) => {
      const now = performance.now();
      if (!data.startsWith('{"type":"position"')) return;
      const m = JSON.parse(data);
      if (m.position.symbol !== SYMBOL || m.position.long < 2) return;
      messageSize = data.length;
      arrivals.push([m.position.long, now]);
      received.set(m.position.long, (received.get(m.position.long) ?? 0) + 1);
    });
    let missed = 0;
    const orders = Array.from({ length: o.changes }, (_, k) => probe.expect(`fan-${k}`));
    try {
      await sleep(500); // snapshots delivered
      for (let k = 0; k < o.changes; k++) {
        const lots = k + 2;
        pub.publish(buyRequest(names.portfolio, `fan-${k}`, SYMBOL, 3501));
        try {
          await until("position at every client", () => (received.get(lots) ?? 0) >= o.clients, 10_000, 1);
        } catch {
          missed += o.clients - (received.get(lots) ?? 0);
        }
        await sleep(o.gapMs);
      }
    } finally {
      await closeClients(clients);
    }
    // From the fill at the sim (the end of its insertOrder, in the sim's process) to each client.
    await probe.collectSim(sim);
    const got = arrivals.flatMap(([lots, at]) => {
      const filled = orders[lots - 2]?.simOut;
      return filled === undefined ? [] : [at - filled];
    });
    const connector = summarize(got);
    const floor = await floorFanout(o, messageSize || 400);
    const text = table(
      [`fan-out to ${o.clients} WebSocket clients, ${o.changes} changes`, ...SUMMARY_HEADER.slice(1)],
      [
        summaryRow("CONNECTOR: sim fill → client has the position", connector),
        summaryRow("FLOOR: frame in → relayed to every client", floor),
      ],
    );
    console.log(`\n${text}`);
    const result: FanoutResult = {
      clients: o.clients,
      changes: o.changes,
      connector,
      floor,
      missed,
      table: text,
    };
    console.log(fanoutSummary(result));
    return result;
  });
}

/** The one-line summary (no target in the issue beyond reporting p99). */
export function fanoutSummary(r: FanoutResult): string {
  return `fan-out (${r.clients} clients): p50 ${ms(r.connector.p50)} ms, p99 ${ms(r.connector.p99)} ms, max ${
    ms(r.connector.max)
  } ms (floor p50 ${ms(r.floor.p50)} ms, p99 ${ms(r.floor.p99)} ms; connector ${
    signedMs(r.connector.p99 - r.floor.p99)
  } ms at p99); missed ${r.missed}`;
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  await runFanout({ clients: 500, changes: quick ? 10 : 40, gapMs: 100 });
}
