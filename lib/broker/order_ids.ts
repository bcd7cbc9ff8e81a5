/**
 * Deterministic DIFF `order_id`s derived from the client's order id, so a retried or replayed request
 * always maps to the same broker order and the post-reconnect snapshot (keyed by `order_id`) answers every
 * uncertain send (`shared/design/diff-protocol.md` §3.2, lessons-from-peers §15.1).
 *
 * Format: `tbc` + 8 lowercase hex (first 32 bits of SHA-256 of the portfolio id) + `.` + client order id,
 * plus `~` + suffix for the children of a split order (e.g. `tbc1a2b3c4d.abc-1~ct`).
 *
 * - Valid for the gateway: client ids are 1–64 chars of `[A-Za-z0-9_.:-]`, suffixes 1–16 chars of
 *   `[A-Za-z0-9_]`, so the id never contains `= # | ; /` and is at most 3+8+1+64+1+16 = 93 chars (≤ 128).
 * - `~` is outside the client-id alphabet, so the suffix is unambiguous even though client ids may contain `.`.
 * - Same inputs → same id. Different portfolios with the same client id → different ids unless their
 *   portfolio hashes collide (probability 2⁻³² per pair of portfolios; portfolio ids are few and fixed by
 *   configuration, and a collision only matters if both trade the same account with the same client id).
 * - Within one portfolio, ids are distinct for distinct (client id, suffix) pairs: the mapping is injective.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Prefix of every id we derive (orders without it are external: other terminals, the gateway). */
export const BROKER_ORDER_ID_PREFIX = "tbc";

/** The client order id alphabet and length (contract §2). */
export const CLIENT_ORDER_ID_PATTERN: RegExp = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Split-child suffix alphabet and length. */
export const SUFFIX_PATTERN: RegExp = /^[A-Za-z0-9_]{1,16}$/;

/** Characters the gateway refuses in ids (OTG schema). */
export const FORBIDDEN_ID_CHARS: RegExp = /[=#|;/]/;

/** Longest DIFF order id we produce or accept. */
export const MAX_BROKER_ORDER_ID_LENGTH = 128;

const ID_PATTERN = /^tbc([0-9a-f]{8})\.([A-Za-z0-9_.:-]{1,64})(?:~([A-Za-z0-9_]{1,16}))?$/;

const tags = new Map<string, string>();

/** The 8-hex tag of a portfolio id (first 32 bits of its SHA-256, lowercase hex). */
export function portfolioTag(portfolioId: string): string {
  // A service has one portfolio: its tag is computed once, not on every order and every frame's order id.
  let tag = tags.get(portfolioId);
  if (tag === undefined) {
    tag = createHash("sha256").update(portfolioId, "utf8").digest("hex").slice(0, 8);
    if (tags.size < 64) tags.set(portfolioId, tag);
  }
  return tag;
}

/**
 * The DIFF `order_id` of a client order (and of one child of a split order when `suffix` is given).
 * Throws RangeError when the client id or suffix is outside its alphabet or length.
 */
export function deriveBrokerOrderId(
  portfolioId: string,
  clientOrderId: string,
  options: { suffix?: string } = {},
): string {
  if (portfolioId === "") throw new RangeError("portfolio id must not be empty");
  if (!CLIENT_ORDER_ID_PATTERN.test(clientOrderId)) {
    throw new RangeError(
      `client order id must be 1–64 chars of [A-Za-z0-9_.:-]: ${JSON.stringify(clientOrderId)}`,
    );
  }
  const suffix = options.suffix;
  if (suffix !== undefined && !SUFFIX_PATTERN.test(suffix)) {
    throw new RangeError(`order id suffix must be 1–16 chars of [A-Za-z0-9_]: ${JSON.stringify(suffix)}`);
  }
  return `${BROKER_ORDER_ID_PREFIX}${portfolioTag(portfolioId)}.${clientOrderId}${
    suffix === undefined ? "" : `~${suffix}`
  }`;
}

/** What {@linkcode parseBrokerOrderId} recovers from one of our ids. */
export interface ParsedBrokerOrderId {
  clientOrderId: string;
  /** The split-child suffix, if any. */
  suffix?: string;
}

/**
 * The client order id (and suffix) when `brokerOrderId` was derived for `portfolioId`; null for anything
 * else (external orders, another portfolio's orders, malformed ids).
 */
export function parseBrokerOrderId(brokerOrderId: string, portfolioId: string): ParsedBrokerOrderId | null {
  const m = ID_PATTERN.exec(brokerOrderId);
  if (!m || m[1] !== portfolioTag(portfolioId)) return null;
  return m[3] === undefined ? { clientOrderId: m[2] } : { clientOrderId: m[2], suffix: m[3] };
}

/** True when `id` can be sent as a DIFF `order_id` (non-empty, ≤ 128 chars, none of `= # | ; /`). */
export function isValidBrokerOrderId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_BROKER_ORDER_ID_LENGTH && !FORBIDDEN_ID_CHARS.test(id) &&
    // deno-lint-ignore no-control-regex
    !/[\u0000-\u001f\s]/.test(id);
}
