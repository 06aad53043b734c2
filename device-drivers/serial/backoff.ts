/**
 * Jittered exponential back-off for reopening a serial line. A cart left plugged into a dead adapter,
 * or a pseudo-terminal that is not there yet, must neither spin the CPU nor wait minutes once it is
 * back: the delay doubles from `baseMs` up to `maxMs`, and each delay is drawn at random from its
 * upper half ("equal jitter"), so several devices that dropped together do not retry in lock-step.
 */

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** A number in [0, 1); tests pass a fixed one. */
  random?: () => number;
}

export class Backoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions) {
    if (!(options.baseMs > 0) || !(options.maxMs >= options.baseMs)) {
      throw new RangeError(`back-off needs 0 < baseMs <= maxMs (got ${options.baseMs}, ${options.maxMs})`);
    }
    this.#baseMs = options.baseMs;
    this.#maxMs = options.maxMs;
    this.#random = options.random ?? Math.random;
  }

  /** Failures since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt, in [ceiling / 2, ceiling], ceiling = min(max, base × 2^n). */
  next(): number {
    // 2^30 already exceeds any sensible maxMs: stop growing the exponent so it cannot overflow.
    const ceiling = Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt += 1;
    return Math.round(ceiling / 2 + (ceiling / 2) * this.#random());
  }

  /** The line is healthy again: the next failure starts from `baseMs`. */
  reset(): void {
    this.#attempt = 0;
  }
}
