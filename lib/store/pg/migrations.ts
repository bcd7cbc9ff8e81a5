/**
 * The PostgreSQL schema of the service, as versioned migrations with their SQL embedded here (the service
 * never reads `.sql` files at run time, so a compiled binary or a bundle carries its schema).
 *
 * Each migration's SQL uses unqualified names: {@link migrate} runs it with `SET LOCAL search_path` set to
 * the configured schema, so the same text serves `public` or any other schema. A migration, once released,
 * is never edited: `migrate` records a checksum and refuses to go on when an applied migration's text
 * changed. Add a new version instead.
 *
 * @module
 */

/** One versioned migration. */
export interface Migration {
  /** Strictly increasing, starting at 1. */
  readonly version: number;
  /** Short name, recorded beside the version in `schema_migrations`. */
  readonly name: string;
  /** The SQL, one or more statements; runs in one transaction with `search_path` set to the schema. */
  readonly sql: string;
}

/**
 * Order status vocabulary of `order_history.status` and `order_event.status` (contract §4).
 * `UNKNOWN` = sent, outcome not yet known. A reject is never written as a cancel.
 */
export const ORDER_STATUSES = [
  "RECEIVED",
  "SUBMITTED",
  "ACCEPTED",
  "PARTIALLY_FILLED",
  "FILLED",
  "CANCELED",
  "REJECTED",
  "UNKNOWN",
] as const;

/** One value of {@link ORDER_STATUSES}. */
export type OrderStatusName = typeof ORDER_STATUSES[number];

/** Where an order came from (`order_history.source`). */
export const ORDER_SOURCES = ["rabbitmq", "rest", "external", "split"] as const;

/** One value of {@link ORDER_SOURCES}. */
export type OrderSource = typeof ORDER_SOURCES[number];

/** Kill-switch modes (`kill_switch.mode`), contract §5. */
export const KILL_SWITCH_MODES = ["OFF", "HALT", "REDUCE_ONLY", "FLATTEN"] as const;

/** One value of {@link KILL_SWITCH_MODES}. */
export type KillSwitchMode = typeof KILL_SWITCH_MODES[number];

function sqlList(values: readonly string[]): string {
  return values.map((v) => `'${v.replaceAll("'", "''")}'`).join(", ");
}

const STATUS_LIST = sqlList(ORDER_STATUSES);
const DIRECTION_LIST = sqlList(["BUY", "SELL"]);
const OFFSET_LIST = sqlList(["OPEN", "CLOSE", "CLOSETODAY"]);

const MIGRATION_1 = `
-- Refuses UPDATE, DELETE and TRUNCATE on append-only tables.
CREATE FUNCTION refuse_append_only_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'restrict_violation';
END
$fn$;

-- One row per client order: its current state. Key (portfolio_id, id): two portfolios may reuse an id.
CREATE TABLE order_history (
  portfolio_id      text        NOT NULL,
  id                text        NOT NULL,
  status            text        NOT NULL CHECK (status IN (${STATUS_LIST})),
  symbol            text,
  direction         text        CHECK (direction IN (${DIRECTION_LIST})),
  "offset"          text        CHECK ("offset" IN (${OFFSET_LIST})),
  volume            integer     CHECK (volume >= 1),
  limit_price       numeric,
  price_type        text        CHECK (price_type IN ('LIMIT', 'ANY', 'BEST', 'FIVELEVEL')),
  time_condition    text        CHECK (time_condition IN ('IOC', 'GFS', 'GFD', 'GTD', 'GTC', 'GFA')),
  volume_condition  text        CHECK (volume_condition IN ('ANY', 'MIN', 'ALL')),
  filled_quantity   integer     NOT NULL DEFAULT 0 CHECK (filled_quantity >= 0),
  volume_left       integer     CHECK (volume_left >= 0),
  avg_fill_price    numeric,
  exchange_order_id text,
  broker_order_id   text        UNIQUE,
  last_msg          text,
  reject_reason     text,
  source            text        NOT NULL CHECK (source IN (${sqlList(ORDER_SOURCES)})),
  request_hash      text,
  parent_id         text,
  trading_day       text        CHECK (trading_day ~ '^[0-9]{8}$'),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (portfolio_id, id),
  -- Only a refused request may lack the order's fields (they may be what was wrong with it).
  CONSTRAINT order_history_complete_unless_rejected CHECK (
    status = 'REJECTED'
    OR (symbol IS NOT NULL AND direction IS NOT NULL AND "offset" IS NOT NULL AND volume IS NOT NULL)
  ),
  CONSTRAINT order_history_filled_within_volume CHECK (volume IS NULL OR filled_quantity <= volume),
  CONSTRAINT order_history_parent_fk FOREIGN KEY (portfolio_id, parent_id)
    REFERENCES order_history (portfolio_id, id)
);
CREATE INDEX order_history_portfolio_status_idx ON order_history (portfolio_id, status);
CREATE INDEX order_history_portfolio_symbol_idx ON order_history (portfolio_id, symbol);
CREATE INDEX order_history_created_at_idx ON order_history (created_at DESC);
CREATE INDEX order_history_parent_idx ON order_history (portfolio_id, parent_id) WHERE parent_id IS NOT NULL;

-- Append-only: one row per change of an order; seq orders the events of one order (1, 2, ...).
CREATE TABLE order_event (
  event_id     bigserial   PRIMARY KEY,
  portfolio_id text        NOT NULL,
  id           text        NOT NULL,
  seq          integer     NOT NULL CHECK (seq >= 1),
  status       text        NOT NULL CHECK (status IN (${STATUS_LIST})),
  msg          text        CHECK (msg IS NULL OR (msg::jsonb) IS NOT NULL),
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT order_event_seq_key UNIQUE (portfolio_id, id, seq),
  CONSTRAINT order_event_order_fk FOREIGN KEY (portfolio_id, id) REFERENCES order_history (portfolio_id, id)
);
CREATE TRIGGER order_event_append_only BEFORE UPDATE OR DELETE ON order_event
  FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change();
CREATE TRIGGER order_event_no_truncate BEFORE TRUNCATE ON order_event
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_append_only_change();

-- Fills, keyed by the broker's trade id (opaque; deduplicated: insert with ON CONFLICT DO NOTHING).
CREATE TABLE trade (
  portfolio_id    text        NOT NULL,
  trade_id        text        NOT NULL,
  order_id        text,
  broker_order_id text        NOT NULL,
  symbol          text        NOT NULL,
  direction       text        NOT NULL CHECK (direction IN (${DIRECTION_LIST})),
  "offset"        text        NOT NULL CHECK ("offset" IN (${OFFSET_LIST})),
  price           numeric     NOT NULL,
  volume          integer     NOT NULL CHECK (volume >= 1),
  commission      numeric,
  trade_date_time timestamptz NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (portfolio_id, trade_id)
);
CREATE INDEX trade_portfolio_order_idx ON trade (portfolio_id, order_id);
CREATE INDEX trade_broker_order_idx ON trade (broker_order_id);
CREATE INDEX trade_portfolio_time_idx ON trade (portfolio_id, trade_date_time DESC);

-- Kill switch: current state per (portfolio, symbol); symbol '' = the whole portfolio.
CREATE TABLE kill_switch (
  portfolio_id text        NOT NULL,
  symbol       text        NOT NULL DEFAULT '',
  mode         text        NOT NULL CHECK (mode IN (${sqlList(KILL_SWITCH_MODES)})),
  reason       text        NOT NULL DEFAULT '',
  set_by       text        NOT NULL DEFAULT '',
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (portfolio_id, symbol)
);

-- Append-only history of kill-switch changes.
CREATE TABLE kill_switch_event (
  event_id     bigserial   PRIMARY KEY,
  portfolio_id text        NOT NULL,
  symbol       text        NOT NULL DEFAULT '',
  mode         text        NOT NULL CHECK (mode IN (${sqlList(KILL_SWITCH_MODES)})),
  reason       text        NOT NULL DEFAULT '',
  set_by       text        NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kill_switch_event_portfolio_idx ON kill_switch_event (portfolio_id, created_at DESC);
CREATE TRIGGER kill_switch_event_append_only BEFORE UPDATE OR DELETE ON kill_switch_event
  FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change();
CREATE TRIGGER kill_switch_event_no_truncate BEFORE TRUNCATE ON kill_switch_event
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_append_only_change();
`;

/** All migrations, in version order. Append only; never edit a released one. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: 1, name: "orders_trades_kill_switch", sql: MIGRATION_1 },
]);
