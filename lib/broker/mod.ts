/**
 * The broker room: the only code that knows npm `tqsdk` and DIFF packets. {@linkcode createBroker} builds
 * the {@linkcode Broker} for the configured run mode:
 *
 * - `sim`: the local sim exchange at `options.simBaseUrl` (the app starts it in-process) or `tq.sim_url`;
 *   broker `tq.broker` or `快期模拟`; user `tq.account` or the first sim account; password
 *   `tq.account_password` or that sim account's password.
 * - `sandbox` (快期模拟): authenticate `tq.username`/`tq.password` at `tq.auth_url`; log in with bid
 *   `快期模拟` and user = password = the token's `sub`; the token is tqsdk's `accessToken`.
 * - `real`: the same authentication, then bid `tq.broker`, user `tq.account`, password
 *   `tq.account_password`, and `confirm_settlement` after each login.
 *
 * @module
 */

import type { TqConfig } from "../config.ts";
import { SANDBOX_BROKER, TqBroker, type TqBrokerOptions } from "./tq_broker.ts";
import type { Broker } from "./types.ts";

export type * from "./types.ts";
export { deriveBrokerOrderId, parseBrokerOrderId } from "./order_ids.ts";
export { TqBroker, type TqBrokerOptions } from "./tq_broker.ts";

/** Options of {@linkcode createBroker}. */
export interface CreateBrokerOptions {
  /** `sim` mode: base URL of the sim exchange (`http://127.0.0.1:7788`); overrides `tq.sim_url`. */
  simBaseUrl?: string;
  /** Clock (state timestamps, token expiry); default `Date.now`. */
  now?: () => number;
  /** `sim` mode: the sim's accounts (`sim.accounts`), for the default user and password. */
  simAccounts?: { user: string; password: string }[];
  /** Jitter source of the reconnect backoff (tests). */
  random?: () => number;
  /** An attempt not ready after this long is abandoned and retried (default 30 000 ms). */
  loginTimeoutMs?: number;
  /** Timeout of each HTTP fetch (default 15 000 ms). */
  fetchTimeoutMs?: number;
}

/** The resolved {@linkcode TqBrokerOptions} for a configuration (exported for tests and diagnostics). */
export function resolveBrokerOptions(config: TqConfig, options: CreateBrokerOptions = {}): TqBrokerOptions {
  const common = {
    portfolioId: config.portfolio_id,
    reconnect: {
      initialMs: config.reconnect.initial_ms,
      maxMs: config.reconnect.max_ms,
      alarmAfterS: config.reconnect.alarm_after_s,
    },
    now: options.now,
    random: options.random,
    loginTimeoutMs: options.loginTimeoutMs,
    fetchTimeoutMs: options.fetchTimeoutMs,
  };
  if (config.run_mode === "sim") {
    const base = (options.simBaseUrl || config.sim_url).replace(/\/+$/, "");
    if (!base) throw new Error("run_mode sim needs the sim's base URL (tq.sim_url, or the in-process sim)");
    const user = config.account || options.simAccounts?.[0]?.user;
    if (!user) throw new Error("run_mode sim needs tq.account or a sim account");
    const password = config.account_password || options.simAccounts?.find((a) => a.user === user)?.password;
    if (password === undefined) {
      throw new Error(`run_mode sim: no password for user ${user} (tq.account_password)`);
    }
    return {
      ...common,
      mode: "sim",
      bid: config.broker || SANDBOX_BROKER,
      user,
      password,
      brokerListUrl: `${base}/broker-list.json`,
      symbolsUrl: `${base}/t/md/symbols/latest.json`,
      mdUrl: `${base.replace(/^http/, "ws")}/t/md/front/mobile`,
    };
  }
  const auth = {
    url: config.auth_url,
    clientId: config.auth_client_id,
    clientSecret: config.auth_client_secret,
    username: config.username,
    password: config.password,
  };
  const urls = {
    brokerListUrl: config.broker_list_url,
    symbolsUrl: config.symbols_url,
    mdUrl: config.md_url,
  };
  if (config.run_mode === "sandbox") {
    return { ...common, ...urls, mode: "sandbox", bid: SANDBOX_BROKER, auth };
  }
  return {
    ...common,
    ...urls,
    mode: "real",
    bid: config.broker,
    user: config.account,
    password: config.account_password,
    auth,
  };
}

/** Build the broker connection for `config` (nothing connects until `start()`). */
export function createBroker(config: TqConfig, options: CreateBrokerOptions = {}): Broker {
  return new TqBroker(resolveBrokerOptions(config, options));
}
