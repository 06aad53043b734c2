/**
 * The upload's bandwidth budget: the clinic shares its uplink, so the box may be told to use at
 * most so many kbit/s, and a different figure by time of day (e.g. little during clinic hours,
 * everything at night). A token bucket paces every publish of a transfer against the rate in
 * force; 0 means no limit.
 *
 * The bucket may go into debt by one publish (a 256 KiB chunk on a 64 kbit/s link is 32 s of
 * budget): the publish goes, and the next waits until the debt is paid, so the average holds
 * whatever the chunk size. The burst allowed after a quiet spell is one second of the rate.
 */

import { setTimeout as sleep } from "node:timers/promises";

/** A time-of-day rule: from `from` (inclusive) to `to` (exclusive), local time of the box, HH:MM. */
export interface BandwidthRule {
  from: string;
  to: string;
  /** kbit/s (1000 bits per second) in force during the rule; 0 = unlimited. */
  kbps: number;
}

export interface BandwidthBudget {
  /** kbit/s outside every rule; 0 = unlimited. */
  kbps: number;
  /** Rules by time of day; the first that covers the moment applies. A rule may wrap midnight. */
  schedule?: readonly BandwidthRule[];
}

export const UNLIMITED: BandwidthBudget = Object.freeze({ kbps: 0 });

const HH_MM = /^([01][0-9]|2[0-3]):([0-5][0-9])$/;

/** Throws a RangeError naming the bad field. */
export function validateBandwidth(budget: BandwidthBudget, name = "bandwidth"): void {
  const checkKbps = (value: unknown, field: string) => {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
      throw new RangeError(`${field} must be a number of kbit/s ≥ 0 (0 = unlimited)`);
  };
  checkKbps(budget.kbps, `${name}.kbps`);
  (budget.schedule ?? []).forEach((rule, index) => {
    const field = `${name}.schedule[${index}]`;
    if (!HH_MM.test(rule.from)) throw new RangeError(`${field}.from must be HH:MM (00:00–23:59)`);
    if (!HH_MM.test(rule.to)) throw new RangeError(`${field}.to must be HH:MM (00:00–23:59)`);
    if (rule.from === rule.to) throw new RangeError(`${field} covers no time (from = to)`);
    checkKbps(rule.kbps, `${field}.kbps`);
  });
}

function minutesOf(hhmm: string): number {
  const [hours, minutes] = hhmm.split(":").map(Number) as [number, number];
  return hours * 60 + minutes;
}

/** The rate in force at `at` (the box's local time), in bytes per second; Infinity = unlimited. */
export function bytesPerSecondAt(budget: BandwidthBudget, at: Date): number {
  const minute = at.getHours() * 60 + at.getMinutes();
  const rule = (budget.schedule ?? []).find((candidate) => {
    const from = minutesOf(candidate.from);
    const to = minutesOf(candidate.to);
    return from < to ? minute >= from && minute < to : minute >= from || minute < to;
  });
  const kbps = rule ? rule.kbps : budget.kbps;
  return kbps > 0 ? (kbps * 1000) / 8 : Number.POSITIVE_INFINITY;
}

export interface TokenBucketOptions {
  /** Clock in milliseconds (tests pass a fake one). */
  now?: () => number;
  /** Waits `ms` or until `signal` aborts (tests pass a fake one). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export class TokenBucket {
  readonly #budget: BandwidthBudget;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Bytes that may go now; negative = debt still to be paid by waiting. */
  #tokens = 0;
  #last: number;

  constructor(budget: BandwidthBudget, options: TokenBucketOptions = {}) {
    validateBandwidth(budget);
    this.#budget = budget;
    this.#now = options.now ?? (() => Date.now());
    // Aborted: reject with the signal's own reason (a coded error), as throwIfAborted() does.
    this.#sleep =
      options.sleep ??
      ((ms, signal) =>
        sleep(ms, undefined, signal ? { signal } : {}).catch((error: unknown) => {
          throw signal?.aborted ? signal.reason : error;
        }));
    this.#last = this.#now();
  }

  /** The rate in force now, bytes per second (Infinity = unlimited). */
  rate(): number {
    return bytesPerSecondAt(this.#budget, new Date(this.#now()));
  }

  /**
   * Spend `bytes`; resolves when they may go (at once while within budget). Rejects with the
   * signal's reason when it aborts meanwhile (the bytes stay spent: they were meant to go).
   */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const rate = this.#refill();
    if (rate === Number.POSITIVE_INFINITY) return;
    this.#tokens -= bytes;
    while (this.#tokens < 0) {
      signal?.throwIfAborted();
      await this.#sleep(Math.ceil((-this.#tokens / rate) * 1000), signal);
      // The schedule may have moved on meanwhile (e.g. the night's budget began).
      if (this.#refill() === Number.POSITIVE_INFINITY) this.#tokens = 0;
    }
  }

  /** Add what accrued since the last look; returns the rate in force. */
  #refill(): number {
    const now = this.#now();
    const rate = this.rate();
    const elapsedSeconds = Math.max(0, now - this.#last) / 1000;
    this.#last = now;
    // At most one second's worth saved up: a burst after a quiet spell stays short.
    this.#tokens =
      rate === Number.POSITIVE_INFINITY ? 0 : Math.min(rate, this.#tokens + elapsedSeconds * rate);
    return rate;
  }
}
