/**
 * The line faults the simulator injects, decided by a seeded random source so a run can be
 * replayed: garbage between units (at a rate per second of ECG), drops (a whole unit or one byte
 * of it) and random write sizes.
 */
import type { PlayUnit } from "./playlist.ts";
import { seededRandom } from "./random.ts";

export interface FaultSettings {
  seed: number;
  noiseBytesPerSecond: number;
  dropRate: number;
  dropMode: "unit" | "byte";
  split: boolean;
}

export interface UnitWrites {
  /** The bytes to write, in order, each a separate write. */
  writes: Uint8Array[];
  noiseBytes: number;
  /** What the drop did to this unit, if it was hit. */
  dropped: "unit" | "byte" | undefined;
}

/** Largest piece of a split write; small enough that a frame or record spans several. */
const MAX_SPLIT_PIECE = 300;

export class FaultInjector {
  readonly #settings: FaultSettings;
  readonly #random;
  #lastAt = 0;
  /** Fraction of a noise byte carried to the next gap. */
  #noiseCarry = 0;

  constructor(settings: FaultSettings) {
    this.#settings = settings;
    this.#random = seededRandom(settings.seed);
  }

  writesFor(unit: PlayUnit): UnitWrites {
    const random = this.#random;
    const owed =
      this.#noiseCarry + this.#settings.noiseBytesPerSecond * Math.max(0, unit.atSeconds - this.#lastAt);
    this.#lastAt = unit.atSeconds;
    const noiseBytes = Math.floor(owed);
    this.#noiseCarry = owed - noiseBytes;
    let body = unit.bytes;
    let dropped: UnitWrites["dropped"];
    if (this.#settings.dropRate > 0 && random.next() < this.#settings.dropRate) {
      dropped = this.#settings.dropMode;
      if (dropped === "unit") body = new Uint8Array(0);
      else {
        const at = random.below(body.length);
        body = concat([body.subarray(0, at), body.subarray(at + 1)]);
      }
    }
    const all = noiseBytes > 0 ? concat([random.bytes(noiseBytes), body]) : body;
    if (all.length === 0) return { writes: [], noiseBytes, dropped };
    if (!this.#settings.split) return { writes: [all], noiseBytes, dropped };
    const writes: Uint8Array[] = [];
    for (let at = 0; at < all.length; ) {
      const size = 1 + random.below(Math.min(MAX_SPLIT_PIECE, all.length - at));
      writes.push(all.subarray(at, at + size));
      at += size;
    }
    return { writes, noiseBytes, dropped };
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
