/**
 * Persistence of the kill switch: `kill_switch` (current mode per portfolio and symbol; symbol `''` = the
 * whole portfolio) and `kill_switch_event` (append-only history: every change with who and why). A change
 * writes both in one transaction, so the history never misses a state and a state never lacks its event.
 *
 * @module
 */

import type { KillSwitchChange, KillSwitchEntry, KillSwitchPersistence } from "../../orders/kill_switch.ts";
import type { KillSwitchMode } from "./migrations.ts";
import type { Database } from "./connect.ts";

/** One `kill_switch_event` row. */
export interface KillSwitchEvent {
  event_id: number;
  symbol: string;
  mode: KillSwitchMode;
  reason: string;
  set_by: string;
  created_at: string;
}

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/** The kill switch of one portfolio in PostgreSQL. */
export class KillSwitchStore implements KillSwitchPersistence {
  readonly #sql: Database;
  readonly #portfolioId: string;

  /** A store over an open client (search_path already set to the service's schema). */
  constructor(sql: Database, options: { portfolioId: string }) {
    if (!options.portfolioId) throw new TypeError("KillSwitchStore: portfolioId is required");
    this.#sql = sql;
    this.#portfolioId = options.portfolioId;
  }

  /** Every scope's current setting, portfolio (`''`) first. */
  async load(): Promise<KillSwitchEntry[]> {
    const rows = await this.#sql`
      select symbol, mode, reason, set_by, to_char(updated_at at time zone 'UTC', ${this.#sql.unsafe(ISO)})
        as updated_at
      from kill_switch where portfolio_id = ${this.#portfolioId} order by symbol`;
    return rows.map((r) => ({
      symbol: r.symbol as string,
      mode: r.mode as KillSwitchMode,
      reason: r.reason as string,
      set_by: r.set_by as string,
      updated_at: r.updated_at as string,
    }));
  }

  /** Upsert the scope's row and append the event, in one transaction. */
  async set(change: KillSwitchChange): Promise<{ entry: KillSwitchEntry; event_id: number }> {
    return await this.#sql.begin(async (tx) => {
      const [row] = await tx`
        insert into kill_switch (portfolio_id, symbol, mode, reason, set_by, updated_at)
        values (${this.#portfolioId}, ${change.symbol}, ${change.mode}, ${change.reason}, ${change.set_by}, now())
        on conflict (portfolio_id, symbol) do update
          set mode = excluded.mode, reason = excluded.reason, set_by = excluded.set_by, updated_at = now()
        returning symbol, mode, reason, set_by,
          to_char(updated_at at time zone 'UTC', ${tx.unsafe(ISO)}) as updated_at`;
      const [event] = await tx`
        insert into kill_switch_event (portfolio_id, symbol, mode, reason, set_by)
        values (${this.#portfolioId}, ${change.symbol}, ${change.mode}, ${change.reason}, ${change.set_by})
        returning event_id`;
      return {
        entry: {
          symbol: row.symbol as string,
          mode: row.mode as KillSwitchMode,
          reason: row.reason as string,
          set_by: row.set_by as string,
          updated_at: row.updated_at as string,
        },
        event_id: Number(event.event_id),
      };
    }) as { entry: KillSwitchEntry; event_id: number };
  }

  /** The latest changes, newest first (default 50, at most 1000). */
  async history(options: { limit?: number } = {}): Promise<KillSwitchEvent[]> {
    const limit = Math.min(Math.max(Math.trunc(options.limit ?? 50), 1), 1000);
    const rows = await this.#sql`
      select event_id, symbol, mode, reason, set_by,
        to_char(created_at at time zone 'UTC', ${this.#sql.unsafe(ISO)}) as created_at
      from kill_switch_event where portfolio_id = ${this.#portfolioId}
      order by event_id desc limit ${limit}`;
    return rows.map((r) => ({
      event_id: Number(r.event_id),
      symbol: r.symbol as string,
      mode: r.mode as KillSwitchMode,
      reason: r.reason as string,
      set_by: r.set_by as string,
      created_at: r.created_at as string,
    }));
  }
}
