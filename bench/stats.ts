/**
 * Small helpers of the benchmarks: percentiles of a sample, fixed-width tables, command-line arguments.
 * Pure functions only (tested in `stats_test.ts`).
 *
 * @module
 */

/** Summary of one sample of durations (milliseconds). */
export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * The `p`-th percentile (0–100) of `sorted` (ascending) by the nearest-rank method: the smallest value with
 * at least p % of the sample at or below it. NaN for an empty sample.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  if (p <= 0) return sorted[0];
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1];
}

/** n, p50, p90, p99, max and mean of `values` (NaN skipped). */
export function summarize(values: readonly number[]): Summary {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  const mean = sorted.length === 0 ? NaN : sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? NaN : sorted[sorted.length - 1],
    mean,
  };
}

/** A duration in ms for a table cell: 3 significant decimals below 10 ms, fewer above. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "–";
  if (Math.abs(value) < 10) return value.toFixed(2);
  if (Math.abs(value) < 100) return value.toFixed(1);
  return value.toFixed(0);
}

/** A signed difference in ms: `+0.47`, `−0.34` (so a share below the floor does not read `+-0.34`). */
export function signedMs(value: number): string {
  return value < 0 ? `−${ms(-value)}` : `+${ms(value)}`;
}

/** Render `rows` under `header` as a Markdown table with right-aligned columns after the first. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    "| " + cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join(" | ") + " |";
  const rule = "|" + widths.map((w, i) => i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":").join("|") +
    "|";
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** One table row for a summary: label, n, p50, p90, p99, max. */
export function summaryRow(label: string, s: Summary): string[] {
  return [label, String(s.n), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max)];
}

/** The header matching {@linkcode summaryRow}. */
export const SUMMARY_HEADER: readonly string[] = ["", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"];

/** Parsed command line of `bench/mod.ts`. */
export interface BenchArgs {
  /** Benchmarks to run, in the given order; empty = all. */
  only: string[];
  /** Smaller counts. */
  quick: boolean;
}

/** Parse `[--quick] [name …]` (a stray `--` from `deno task bench -- …` is ignored). */
export function parseArgs(args: readonly string[], known: readonly string[]): BenchArgs {
  const out: BenchArgs = { only: [], quick: false };
  for (const a of args) {
    if (a === "--") continue;
    if (a === "--quick" || a === "-q") out.quick = true;
    else if (known.includes(a)) out.only.push(a);
    else throw new Error(`unknown argument ${a} (expected --quick or one of ${known.join(", ")})`);
  }
  return out;
}
