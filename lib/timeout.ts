/**
 * A time limit on a promise.
 *
 * @module
 */

/** Options of {@linkcode withTimeout}. */
export interface TimeoutOptions {
  /** Named in the error: `"<what>: no answer within <ms> ms"`. */
  what?: string;
  /** Called when the time is up, right after the rejection settles the race (e.g. to abort the work). */
  onTimeout?: () => void;
}

/** `promise`, or a rejection (`no answer within <ms> ms`) once `ms` pass first. */
export function withTimeout<T>(
  promise: PromiseLike<T>,
  ms: number,
  options: TimeoutOptions = {},
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const text = `no answer within ${ms} ms`;
      reject(new Error(options.what ? `${options.what}: ${text}` : text));
      options.onTimeout?.();
    }, ms);
  });
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer));
}
