/**
 * Fault injection for the sim exchange, set through `POST /sim/faults` by tests: delay or duplicate outgoing
 * packets, refuse logins or settlement confirmations, deliver the login snapshot in two frames (the second
 * held until `POST /sim/release` if asked), and act on the next `insert_order`s (drop the socket before or
 * after processing it, or swallow it). Raw frames (hostile ones included) are sent with `POST /sim/inject`.
 *
 * @module
 */

/** What to do with one upcoming `insert_order`. */
export type InsertFault = "drop_before" | "drop_after" | "ignore";

/** The current fault settings. */
export interface FaultSettings {
  /** Delay every outgoing frame by this many ms (order is kept). */
  delay_ms: number;
  /** Send every outgoing frame twice. */
  duplicate: boolean;
  /** Answer every login with notify 403 "用户登录失败!". */
  refuse_login: boolean;
  /** Deliver the login snapshot as two frames, the first with `trade_more_data: true`. */
  split_snapshot: boolean;
  /** With `split_snapshot`: hold the second frame until `POST /sim/release`. */
  hold_snapshot: boolean;
  /** Answer `confirm_settlement` with notify 336 "当前时间不支持确认结算单" (WARNING) and stay unconfirmed. */
  refuse_settlement: boolean;
  /** Faults for the next `insert_order`s, consumed in order. */
  insert_faults: InsertFault[];
}

const INSERT_FAULTS: ReadonlySet<string> = new Set(["drop_before", "drop_after", "ignore"]);

/** Mutable fault settings with validation. */
export class FaultPlan {
  settings: FaultSettings = FaultPlan.none();

  /** No faults. */
  static none(): FaultSettings {
    return {
      delay_ms: 0,
      duplicate: false,
      refuse_login: false,
      split_snapshot: false,
      hold_snapshot: false,
      refuse_settlement: false,
      insert_faults: [],
    };
  }

  /**
   * Apply a partial update (`{"reset": true}` clears everything first). Returns an error text naming the
   * bad field, or `null` when applied.
   */
  apply(update: Partial<FaultSettings> & { reset?: boolean }): string | null {
    const next: FaultSettings = update.reset ? FaultPlan.none() : { ...this.settings };
    for (const [key, value] of Object.entries(update)) {
      switch (key) {
        case "reset":
          break;
        case "delay_ms":
          if (typeof value !== "number" || !(value >= 0) || value > 60_000) return "delay_ms: 0..60000";
          next.delay_ms = value;
          break;
        case "duplicate":
        case "refuse_login":
        case "split_snapshot":
        case "hold_snapshot":
        case "refuse_settlement":
          if (typeof value !== "boolean") return `${key}: expected a boolean`;
          next[key] = value;
          break;
        case "insert_faults":
          if (!Array.isArray(value) || !value.every((v) => INSERT_FAULTS.has(v))) {
            return "insert_faults: expected an array of drop_before | drop_after | ignore";
          }
          next.insert_faults = [...value];
          break;
        default:
          return `${key}: unknown fault`;
      }
    }
    this.settings = next;
    return null;
  }

  /** Take the fault for the next `insert_order`, if any. */
  takeInsertFault(): InsertFault | undefined {
    return this.settings.insert_faults.shift();
  }
}
