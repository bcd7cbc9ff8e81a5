/**
 * The stream hub: fans the live view's changes out to subscribers (the WebSocket route).
 *
 * Each subscriber first receives a `snapshot` message, then one message per change (contract §5):
 * ```
 * {"type":"snapshot","positions":[…],"orders":[…],"account":{…}|null,"status":{…},"trading_day":"20251224"}
 * {"type":"position","position":{…}} {"type":"order","order":{…}} {"type":"account","account":{…}}
 * {"type":"status","status":{…}}
 * ```
 * Every change message carries the item's full current state, so receiving one twice is harmless.
 *
 * Slow subscribers. Each message is serialised once and handed to every subscriber's own queue; a
 * subscriber is "busy" while its transport still holds more than `maxBacklogBytes` (WebSocket
 * `bufferedAmount`) or while the promise returned by its last `send` is pending. Messages for a busy
 * subscriber wait in its queue; nobody else waits. When the queue would exceed `maxQueue`, the backlog is
 * DROPPED and replaced by one pending fresh `snapshot` (built from the live view when it is finally sent),
 * and further changes are not queued until then (the snapshot will contain them). A subscriber therefore
 * never holds more than `maxQueue` messages plus what its transport buffers, and after a hiccup it
 * resynchronises from a snapshot instead of replaying stale history. A subscriber that stays busy for
 * `stallTimeoutMs` is closed with code 1013 ("client too slow"). A `send` that throws closes that
 * subscriber (1011).
 *
 * @module
 */
import type { AccountView, BrokerOrderView, BrokerState, PositionView } from "../broker/types.ts";
import { getLogger } from "../log.ts";
import type { LiveChange, LiveView } from "./live_view.ts";

/** A message to a stream subscriber. */
export type StreamMessage =
  | {
    type: "snapshot";
    positions: PositionView[];
    orders: BrokerOrderView[];
    account: AccountView | null;
    status: BrokerState;
    trading_day: string;
  }
  | { type: "position"; position: PositionView }
  | { type: "order"; order: BrokerOrderView }
  | { type: "account"; account: AccountView }
  | { type: "status"; status: BrokerState };

/** Delivers one serialised message (JSON text); may return a promise to signal back-pressure. */
export type SendFn = (data: string) => void | Promise<void>;

/** Per-subscriber options. */
export interface SubscribeOptions {
  /** Messages held for this subscriber before its backlog is replaced by a snapshot (default: hub's). */
  maxQueue?: number;
  /** Bytes the transport still buffers (WebSocket `bufferedAmount`); absent = always 0. */
  backlog?: () => number;
  /** Above this backlog the subscriber is busy (default: hub's). */
  maxBacklogBytes?: number;
  /** Close the transport (used for too-slow subscribers, failed sends and hub shutdown). */
  close?: (code: number, reason: string) => void;
}

/** A subscription. */
export interface Subscription {
  /** Unique per hub. */
  readonly id: number;
  /** Messages waiting for this subscriber. */
  readonly queued: number;
  /** Stop delivering (does not close the transport). */
  unsubscribe(): void;
}

/** Hub options (defaults for subscribers). */
export interface StreamHubOptions {
  /** Default 1000 messages. */
  maxQueue?: number;
  /** Default 1 MiB. */
  maxBacklogBytes?: number;
  /** How often busy subscribers are re-tried (default 25 ms). */
  pollMs?: number;
  /** Close a subscriber that stays busy this long (default 60 000 ms). */
  stallTimeoutMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** Counters (for metrics). */
export interface StreamHubStats {
  clients: number;
  /** Messages handed to transports, snapshots included. */
  messages_sent: number;
  /** Backlogs replaced by a snapshot. */
  resyncs: number;
  /** Subscribers closed for being too slow or for a failed send. */
  dropped_clients: number;
}

/** WebSocket close code for a subscriber that could not keep up. */
export const CLOSE_TOO_SLOW = 1013;

interface Client {
  id: number;
  send: SendFn;
  queue: string[];
  resync: boolean;
  pending: boolean;
  /** When it became busy; null = not busy. */
  busySince: number | null;
  maxQueue: number;
  maxBacklogBytes: number;
  backlog: () => number;
  close?: (code: number, reason: string) => void;
  open: boolean;
}

const log = getLogger("stream.hub");

/** Fan-out of live-view changes to subscribers, each with its own bounded queue. */
export class StreamHub {
  #view: LiveView;
  #clients = new Map<number, Client>();
  #nextId = 1;
  #offView: () => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  #opts: Required<Omit<StreamHubOptions, "now">>;
  #now: () => number;
  #stats = { messages_sent: 0, resyncs: 0, dropped_clients: 0 };
  #closed = false;

  /** Start following `view`. */
  constructor(view: LiveView, options: StreamHubOptions = {}) {
    this.#view = view;
    this.#opts = {
      maxQueue: options.maxQueue ?? 1000,
      maxBacklogBytes: options.maxBacklogBytes ?? 1 << 20,
      pollMs: options.pollMs ?? 25,
      stallTimeoutMs: options.stallTimeoutMs ?? 60_000,
    };
    this.#now = options.now ?? Date.now;
    this.#offView = view.subscribe((change) => this.#publish(change));
  }

  /** Number of connected subscribers. */
  get clientCount(): number {
    return this.#clients.size;
  }

  /** Counters. */
  stats(): StreamHubStats {
    return { clients: this.#clients.size, ...this.#stats };
  }

  /** The snapshot message of the current view. */
  snapshotMessage(): StreamMessage {
    const view = this.#view;
    return {
      type: "snapshot",
      positions: view.positions(),
      orders: view.orders(),
      account: view.account(),
      status: view.state(),
      trading_day: view.tradingDay,
    };
  }

  /** Add a subscriber: it receives a snapshot at once (or as soon as it is not busy), then changes. */
  subscribe(send: SendFn, options: SubscribeOptions = {}): Subscription {
    if (this.#closed) throw new Error("stream hub is closed");
    const client: Client = {
      id: this.#nextId++,
      send,
      queue: [],
      resync: true, // the first message is a snapshot
      pending: false,
      busySince: null,
      maxQueue: Math.max(1, options.maxQueue ?? this.#opts.maxQueue),
      maxBacklogBytes: options.maxBacklogBytes ?? this.#opts.maxBacklogBytes,
      backlog: options.backlog ?? (() => 0),
      close: options.close,
      open: true,
    };
    this.#clients.set(client.id, client);
    this.#pump(client);
    return {
      id: client.id,
      get queued() {
        return client.queue.length + (client.resync ? 1 : 0);
      },
      unsubscribe: () => this.#remove(client),
    };
  }

  /** Close every subscriber (1001 "server shutting down") and stop following the view. */
  close(code = 1001, reason = "server shutting down"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#offView();
    for (const c of [...this.#clients.values()]) {
      this.#remove(c);
      safeClose(c, code, reason);
    }
    this.#stopTimer();
  }

  #publish(change: LiveChange): void {
    const msg = toMessage(change);
    if (!msg || this.#clients.size === 0) return;
    const data = JSON.stringify(msg);
    for (const c of [...this.#clients.values()]) {
      if (c.resync) {
        // a snapshot is pending: it will contain this change
      } else if (c.queue.length >= c.maxQueue) {
        c.queue = [];
        c.resync = true;
        this.#stats.resyncs++;
        log.warn("stream subscriber {id} fell behind; backlog dropped, snapshot pending", { id: c.id });
      } else {
        c.queue.push(data);
      }
      this.#pump(c);
    }
  }

  #busy(c: Client): boolean {
    if (c.pending) return true;
    try {
      return c.backlog() > c.maxBacklogBytes;
    } catch {
      return false;
    }
  }

  #pump(c: Client): void {
    while (c.open && (c.resync || c.queue.length > 0)) {
      if (c.pending) {
        this.#startTimer(); // resumes when the pending send settles; the timer watches for a stall
        return;
      }
      if (this.#busy(c)) {
        c.busySince ??= this.#now();
        if (this.#now() - c.busySince >= this.#opts.stallTimeoutMs) {
          this.#drop(c, CLOSE_TOO_SLOW, "client too slow");
          return;
        }
        this.#startTimer();
        return;
      }
      c.busySince = null;
      let data: string;
      if (c.resync) {
        c.resync = false;
        c.queue = []; // the snapshot supersedes anything queued before it
        data = JSON.stringify(this.snapshotMessage());
      } else {
        data = c.queue.shift()!;
      }
      let result: void | Promise<void>;
      try {
        result = c.send(data);
      } catch (err) {
        log.warn("stream subscriber {id} send failed: {error}", { id: c.id, error: String(err) });
        this.#drop(c, 1011, "send failed");
        return;
      }
      this.#stats.messages_sent++;
      if (result instanceof Promise) {
        c.pending = true;
        c.busySince = this.#now();
        result.then(
          () => {
            c.pending = false;
            this.#pump(c);
          },
          (err) => {
            c.pending = false;
            log.warn("stream subscriber {id} send failed: {error}", { id: c.id, error: String(err) });
            this.#drop(c, 1011, "send failed");
          },
        );
        return;
      }
    }
    if (c.open) c.busySince = null;
  }

  #drop(c: Client, code: number, reason: string): void {
    if (!c.open) return;
    this.#remove(c);
    this.#stats.dropped_clients++;
    safeClose(c, code, reason);
  }

  #remove(c: Client): void {
    c.open = false;
    c.queue = [];
    this.#clients.delete(c.id);
    if (this.#clients.size === 0) this.#stopTimer();
  }

  #startTimer(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      let waiting = false;
      for (const c of [...this.#clients.values()]) {
        if (!c.resync && c.queue.length === 0) continue;
        if (c.pending) {
          if (c.busySince !== null && this.#now() - c.busySince >= this.#opts.stallTimeoutMs) {
            this.#drop(c, CLOSE_TOO_SLOW, "client too slow");
          }
        } else {
          this.#pump(c);
        }
        if (c.open && (c.resync || c.queue.length > 0)) waiting = true;
      }
      if (!waiting) this.#stopTimer();
    }, this.#opts.pollMs);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function safeClose(c: Client, code: number, reason: string): void {
  try {
    c.close?.(code, reason);
  } catch {
    // the transport is already gone
  }
}

/** The wire message of a live-view change (`snapshot` markers produce none: item changes cover them). */
export function toMessage(change: LiveChange): StreamMessage | null {
  switch (change.type) {
    case "position":
      return { type: "position", position: change.position };
    case "order":
      return { type: "order", order: change.order };
    case "account":
      return { type: "account", account: change.account };
    case "status":
      return { type: "status", status: change.state };
    default:
      return null;
  }
}
