/**
 * The sim exchange in a process of its own, for the benchmarks: the connector under test then shares its
 * event loop with nothing but itself, as it does with shinnytech's servers (the exchange is never on the
 * connector's thread in `real` or `sandbox` mode). Started by {@linkcode startSimProcess}; the child runs
 * this module's `import.meta.main` block.
 *
 * The probe of the sim's own time lives here, in the child: its engine's `insertOrder` is wrapped and each
 * order's start and end are kept as epoch milliseconds (`performance.timeOrigin + performance.now()`, the
 * same clock in both processes to a few microseconds). The parent asks for them over the child's stdin.
 *
 * @module
 */
import { startSim } from "../lib/sim/mod.ts";
import type { InsertOrderPacket } from "../lib/diff/types.ts";

/** The sim account of the raw floor (`floor.ts`); its password is the same. */
export const FLOOR_USER = "floor";

/** Sim times of one order: epoch ms (high resolution) at `insertOrder`'s start and end. */
export type SimTimes = Record<string, [number, number]>;

/** A sim exchange running in a child process. */
export interface SimProcess {
  /** `http://host:port` of the child's sim. */
  baseUrl: string;
  /** Its trade socket, `ws://host:port/trade`. */
  tradeUrl: string;
  /** The child's insertOrder times since the last call, by broker order id; the child forgets them. */
  takeTimes(): Promise<SimTimes>;
  close(): Promise<void>;
}

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes on this machine. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Start the bench sim (its clock, a large balance, no random walk) in a child process. */
export async function startSimProcess(options: { clock: string; balance: number }): Promise<SimProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL(import.meta.url).pathname, options.clock, String(options.balance)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = readLines(child.stdout);
  const writer = child.stdin.getWriter();
  const next = async (what: string) => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`bench sim process ended before ${what}`);
    return value;
  };
  const { baseUrl, tradeUrl } = JSON.parse(await next("it started"));
  let chain: Promise<unknown> = Promise.resolve();
  return {
    baseUrl,
    tradeUrl,
    takeTimes() {
      const answer = chain.then(async () => {
        await writer.write(new TextEncoder().encode("times\n"));
        return JSON.parse(await next("its times")) as SimTimes;
      });
      chain = answer.catch(() => {});
      return answer;
    },
    async close() {
      await writer.close().catch(() => {});
      await child.status;
      await lines.return(undefined).catch(() => {});
    },
  };
}

/** The lines of a byte stream (without their line ends). */
async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string, void> {
  let buffered = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    let end: number;
    while ((end = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
    }
  }
  if (buffered) yield buffered;
}

if (import.meta.main) {
  const [clock, balance] = Deno.args;
  const sim = await startSim({
    host: "127.0.0.1",
    port: 0,
    clock,
    seed: 1,
    tickMs: 0,
    accounts: [
      { user: "demo", password: "demo", balance: Number(balance) }, // the connector's
      { user: FLOOR_USER, password: FLOOR_USER, balance: Number(balance) }, // the floor's (floor.ts)
    ],
  });
  let times: SimTimes = {};
  const wrapped = new WeakSet<object>();
  const wrap = () => {
    const engine = sim.engine();
    if (wrapped.has(engine)) return;
    wrapped.add(engine);
    const original = engine.insertOrder.bind(engine);
    engine.insertOrder = (user: string, packet: InsertOrderPacket, ...rest) => {
      const t0 = epochNow();
      original(user, packet, ...rest);
      times[String(packet.order_id)] = [t0, epochNow()];
    };
  };
  wrap();
  console.log(JSON.stringify({ baseUrl: sim.baseUrl, tradeUrl: sim.tradeUrl }));
  for await (const line of readLines(Deno.stdin.readable)) {
    if (line !== "times") continue;
    wrap(); // a restart with state kept replaces the engine
    console.log(JSON.stringify(times));
    times = {};
  }
  await sim.close();
}
