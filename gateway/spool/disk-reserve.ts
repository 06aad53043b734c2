/**
 * The spool's disk reserve: refuse new instances while the spool's filesystem has less free space
 * than a configured reserve, so the box never fills its SD card to the last byte (where the study
 * index, the report inbox and the OS itself would start failing) and a modality is told "Out of
 * Resources, try later" (A700) instead. Acceptance resumes by itself once space returns.
 *
 * `statfs` is cheap but not free and every C-STORE asks, so its answer is cached for `checkEveryMs`;
 * between probes the bytes the spool itself stored are subtracted, so a burst of instances cannot
 * overrun the reserve by a whole probe interval's worth of writes.
 */
import { statfs } from "node:fs/promises";
import type { Logger } from "../../common/logger.ts";

/** Bytes available to this (unprivileged) process on the filesystem holding `path`. */
export type FreeSpaceProbe = (path: string) => Promise<number>;

export const statfsProbe: FreeSpaceProbe = async (path) => {
  const stats = await statfs(path);
  // bavail, not bfree: blocks reserved for root (ext4's 5%) are not ours to fill.
  return stats.bavail * stats.bsize;
};

export interface DiskReserveOptions {
  /** A path on the filesystem to watch (the spool root). */
  path: string;
  /** Refuse below this many free bytes; 0 disables the reserve. */
  reserveBytes: number;
  /** Re-probe at most this often (ms); default 1000. */
  checkEveryMs?: number;
  probe?: FreeSpaceProbe;
  now?: () => number;
  log?: Logger;
}

/** Thrown when the reserve is reached; `code` ENOSPC so callers treat it like a full disk (retryable). */
export class BelowReserveError extends Error {
  readonly code = "ENOSPC";
  constructor(freeBytes: number, reserveBytes: number) {
    super(`spool free space ${mib(freeBytes)} MiB is below the reserve of ${mib(reserveBytes)} MiB`);
    this.name = "BelowReserveError";
  }
}

export interface ReserveStatus {
  /** Free bytes as last probed, minus what the spool stored since (undefined before any probe). */
  freeBytes: number | undefined;
  reserveBytes: number;
  /** True while new instances are refused. */
  low: boolean;
}

export class DiskReserve {
  readonly #o: Required<Omit<DiskReserveOptions, "log">> & { log: Logger | undefined };
  #freeBytes: number | undefined;
  #probedAt = Number.NEGATIVE_INFINITY;
  #probing: Promise<void> | undefined;
  #low = false;

  constructor(options: DiskReserveOptions) {
    this.#o = {
      path: options.path,
      reserveBytes: options.reserveBytes,
      checkEveryMs: options.checkEveryMs ?? 1000,
      probe: options.probe ?? statfsProbe,
      now: options.now ?? Date.now,
      log: options.log,
    };
  }

  /** Resolve when the spool may take a new instance; throw `BelowReserveError` when it may not. */
  async check(): Promise<void> {
    if (this.#o.reserveBytes <= 0) return;
    if (this.#o.now() - this.#probedAt >= this.#o.checkEveryMs) await this.#refresh();
    const free = this.#freeBytes;
    // No answer from the probe: let the write itself decide (a real ENOSPC is still A700).
    if (free === undefined) return;
    this.#setLow(free < this.#o.reserveBytes, free);
    if (this.#low) throw new BelowReserveError(free, this.#o.reserveBytes);
  }

  /** The spool wrote `bytes` more: count them until the next probe sees them. */
  consumed(bytes: number): void {
    if (this.#freeBytes !== undefined) this.#freeBytes -= bytes;
  }

  /** A write failed for lack of space: the cached figure is wrong, probe on the next check. */
  invalidate(): void {
    this.#probedAt = Number.NEGATIVE_INFINITY;
  }

  status(): ReserveStatus {
    return { freeBytes: this.#freeBytes, reserveBytes: this.#o.reserveBytes, low: this.#low };
  }

  /** One probe at a time: concurrent C-STOREs share it. */
  #refresh(): Promise<void> {
    this.#probing ??= this.#o
      .probe(this.#o.path)
      .then(
        (free) => {
          this.#freeBytes = free;
        },
        (error: unknown) => {
          this.#freeBytes = undefined;
          this.#o.log?.warn({ event: "spool-free-space-unknown", err: error }, "cannot read free space");
        },
      )
      .finally(() => {
        this.#probedAt = this.#o.now();
        this.#probing = undefined;
      });
    return this.#probing;
  }

  /** Log the transitions only: a full disk refusing hundreds of instances must not flood the log. */
  #setLow(low: boolean, free: number): void {
    if (low === this.#low) return;
    this.#low = low;
    const fields = { freeMiB: mib(free), reserveMiB: mib(this.#o.reserveBytes) };
    if (low)
      this.#o.log?.warn(
        { event: "spool-below-reserve", ...fields },
        "spool disk below reserve: refusing new instances (A700) until space returns",
      );
    else this.#o.log?.info({ event: "spool-reserve-ok", ...fields }, "spool disk above reserve again");
  }
}

function mib(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}
