/**
 * Diagnostic (`deno task bench -- cold`): how much slower the same code runs when it runs once every few
 * milliseconds (as in the steady latency run, one order every 10 ms) than back to back (as in a burst or
 * the throughput run). Two pieces of per-order code are timed call by call, taking turns, in both modes:
 * the connector's intake of one request (the body decoded once, the control-message check, the request
 * parser and its zod schemas, the request hash) and the floor's (`JSON.parse` of the body). Nothing else
 * runs in the process. The ratio between the modes is this host's, not the code's: it is what turns a
 * microsecond-sized piece of work into a tenth of a millisecond on the steady path.
 *
 * @module
 */
import { parseControlMessage } from "../lib/orders/kill_switch.ts";
import { decodeBodyOnce, parseOrderRequest, requestHash } from "../lib/orders/request_schema.ts";
import { buyRequest, sleep } from "./harness.ts";
import { summarize, table } from "./stats.ts";

/** Sizes of one run. */
export interface ColdOptions {
  /** Calls per piece and mode (the first quarter is not counted: JIT warm-up). */
  runs: number;
  /** The pause between calls in the spaced mode, ms. */
  gapMs: number;
}

/** One timed piece of per-order code. */
interface Piece {
  name: string;
  run: (body: Uint8Array) => void;
}

const PIECES: Piece[] = [
  {
    name: "connector: intake of one request (decode, control check, parse, hash)",
    run: (body) => {
      const value = decodeBodyOnce(body);
      parseControlMessage(value, { portfolioId: "bench" });
      const parsed = parseOrderRequest(value, { portfolioId: "bench" });
      if (parsed.kind === "insert") requestHash(parsed.request);
    },
  },
  {
    name: "floor: JSON.parse of the body",
    run: (body) => {
      JSON.parse(new TextDecoder().decode(body));
    },
  },
];

/** Time every piece `runs` times back to back and `runs` times spaced by `gapMs`; print and return the table. */
export async function runCold(o: ColdOptions): Promise<string> {
  const enc = new TextEncoder();
  const times = new Map<string, number[]>();
  const record = (key: string, ms: number) => {
    const list = times.get(key) ?? [];
    list.push(ms);
    times.set(key, list);
  };
  const modes = ["back to back", `one every ${o.gapMs} ms`] as const;
  for (const mode of modes) {
    for (let i = 0; i < o.runs; i++) {
      const body = enc.encode(
        JSON.stringify(buyRequest("bench", `c-${mode.length}-${i}`, "SHFE.rb2605", 3501)),
      );
      for (const piece of PIECES) {
        const t0 = performance.now();
        piece.run(body);
        const t = performance.now() - t0;
        if (i >= o.runs / 4) record(`${piece.name}|${mode}`, t);
        if (mode !== modes[0]) await sleep(o.gapMs / PIECES.length);
      }
    }
  }
  const rows: string[][] = [];
  for (const piece of PIECES) {
    const [hot, spaced] = modes.map((m) => summarize(times.get(`${piece.name}|${m}`) ?? []));
    rows.push([
      piece.name,
      String(hot.n),
      us(hot.p50),
      us(hot.p90),
      us(spaced.p50),
      us(spaced.p90),
      `${(spaced.p50 / hot.p50).toFixed(1)}×`,
    ]);
  }
  const text = table(
    [
      `cold: ${o.runs} calls per mode`,
      "n",
      "back to back p50 µs",
      "p90 µs",
      `one every ${o.gapMs} ms p50 µs`,
      "p90 µs",
      "spaced / back to back",
    ],
    rows,
  );
  console.log(`\n${text}`);
  return text;
}

function us(ms: number): string {
  return (ms * 1000).toFixed(1);
}

if (import.meta.main) {
  await runCold({ runs: Deno.args.includes("--quick") ? 200 : 800, gapMs: 10 });
}
