/**
 * A small seeded pseudo-random number generator for the simulated exchange, so that a run with the same
 * seed and the same sequence of calls produces the same market. Not for anything security related.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's "small fast chaotic" PRNG, 128-bit state, public domain);
 * seeds are expanded with splitmix32 and strings are mixed into seeds with FNV-1a (32-bit).
 *
 * @module
 */

/** A seeded random source. */
export interface Random {
  /** Next unsigned 32-bit integer in [0, 2^32). */
  nextUint32(): number;
  /** Next float in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max] (both inclusive); `min` and `max` must be integers with min ≤ max. */
  int(min: number, max: number): number;
}

/** FNV-1a 32-bit hash of a string's UTF-16 code units, combined with a numeric seed. */
export function hashSeed(seed: number, text: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  h = Math.imul(h, 0x01000193) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Final avalanche (murmur3 fmix32) so that similar strings give unrelated seeds.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Create an sfc32 generator from a 32-bit seed (any number; it is truncated to uint32).
 * Equal seeds give equal sequences.
 */
export function createRandom(seed: number): Random {
  const sm = { s: seed >>> 0 };
  let a = splitmix32(sm);
  let b = splitmix32(sm);
  let c = splitmix32(sm);
  let d = 1;
  function nextUint32(): number {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  }
  // Discard the first outputs, as recommended for sfc32.
  for (let i = 0; i < 12; i++) nextUint32();
  return {
    nextUint32,
    next(): number {
      return nextUint32() / 4294967296;
    },
    int(min: number, max: number): number {
      if (!Number.isInteger(min) || !Number.isInteger(max) || max < min) {
        throw new RangeError(`Random.int: bad range [${min}, ${max}]`);
      }
      const span = max - min + 1;
      if (span > 4294967296) throw new RangeError("Random.int: range wider than 2^32");
      // Rejection sampling to avoid modulo bias.
      const limit = 4294967296 - (4294967296 % span);
      let x = nextUint32();
      while (x >= limit) x = nextUint32();
      return min + (x % span);
    },
  };
}
