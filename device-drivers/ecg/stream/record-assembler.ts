/**
 * Turns verified frames into records of `recordSeconds` of contiguous samples. The sequence
 * counter says which frames the line lost: a short run is filled (PROTOCOL.md, "Gaps") and listed in
 * `record.gaps`; a run longer than `maxGapSeconds`, or a counter that went backwards, cannot be
 * filled honestly, so the record so far is closed (kept if long enough) and a new one begins.
 */
import { withDerivedLimbLeads } from "../derive-leads.ts";
import type { EcgGap, EcgRecord, EcgWaveform } from "../ecg-record.ts";
import type { LineEvent } from "../line-decoder.ts";
import { LEAD_OFF_BITS, STATUS_BITS, type StreamFrame } from "./frame.ts";
import {
  counterRange,
  frameLength,
  maxGapFrames,
  recordSamples,
  type StreamProtocolSettings,
} from "./settings.ts";

interface RecordInProgress {
  /** Box clock when the record's first frame arrived (the stream carries no time). */
  startedAt: Date;
  leads: Int32Array[];
  filled: number;
  gaps: EcgGap[];
  /** Frames whose first sample is in this record. */
  frames: number;
  leadOffFrames: Map<string, number>;
  paceFrames: number;
}

export class RecordAssembler {
  readonly #settings: StreamProtocolSettings;
  readonly #now: () => Date;
  readonly #recordSamples: number;
  readonly #minSamples: number;
  readonly #leadCount: number;
  readonly #counterRange: number;
  readonly #maxGapFrames: number;
  readonly #frameLength: number;
  #expectedCounter: number | undefined;
  /** The last sample instant the device delivered (filled gaps start from it). */
  #lastValues: Int32Array | undefined;
  #current: RecordInProgress | undefined;

  constructor(settings: StreamProtocolSettings, now: () => Date = () => new Date()) {
    this.#settings = settings;
    this.#now = now;
    this.#recordSamples = recordSamples(settings);
    this.#minSamples = Math.ceil(settings.minRecordSeconds * settings.samplingFrequencyHz);
    this.#leadCount = settings.leads.length;
    this.#counterRange = counterRange(settings);
    this.#maxGapFrames = maxGapFrames(settings);
    this.#frameLength = frameLength(settings);
  }

  accept(frame: StreamFrame): LineEvent[] {
    const events: LineEvent[] = [];
    if (this.#expectedCounter !== undefined) {
      const missing = (frame.counter - this.#expectedCounter + this.#counterRange) % this.#counterRange;
      if (missing > this.#maxGapFrames) {
        const previous = (this.#expectedCounter - 1 + this.#counterRange) % this.#counterRange;
        this.#close(events, `the sequence counter jumped from ${previous} to ${frame.counter}`);
        this.#lastValues = undefined;
      } else if (missing > 0) {
        this.#fill(events, missing * this.#settings.samplesPerFrame, frame.samples);
      }
    }
    this.#expectedCounter = (frame.counter + 1) % this.#counterRange;
    this.#countStatus(frame.status);
    const instants = this.#settings.samplesPerFrame;
    for (let instant = 0; instant < instants; instant++) {
      this.#append(events, frame.samples, instant * this.#leadCount, false);
    }
    this.#lastValues = frame.samples.slice((instants - 1) * this.#leadCount);
    return events;
  }

  /** The line closed: the record so far is kept if long enough; the next frame starts afresh. */
  end(): LineEvent[] {
    const events: LineEvent[] = [];
    this.#close(events, "the line closed");
    this.#expectedCounter = undefined;
    this.#lastValues = undefined;
    return events;
  }

  #fill(events: LineEvent[], sampleCount: number, next: Int32Array): void {
    const previous = this.#lastValues ?? next.subarray(0, this.#leadCount);
    const values = new Int32Array(this.#leadCount);
    for (let k = 1; k <= sampleCount; k++) {
      for (let lead = 0; lead < this.#leadCount; lead++) {
        const from = previous[lead] ?? 0;
        const to = next[lead] ?? 0;
        values[lead] =
          this.#settings.gapFill === "hold" ? from : Math.round(from + ((to - from) * k) / (sampleCount + 1));
      }
      this.#append(events, values, 0, true);
    }
  }

  #append(events: LineEvent[], values: Int32Array, offset: number, filled: boolean): void {
    const record = this.#current ?? this.#start();
    const at = record.filled;
    for (let lead = 0; lead < this.#leadCount; lead++) {
      (record.leads[lead] as Int32Array)[at] = values[offset + lead] ?? 0;
    }
    if (filled) {
      const last = record.gaps.at(-1);
      if (last && last.startSample + last.sampleCount === at) last.sampleCount += 1;
      else record.gaps.push({ startSample: at, sampleCount: 1 });
    }
    record.filled += 1;
    if (record.filled === this.#recordSamples) {
      events.push({ kind: "record", record: this.#toRecord(record, undefined) });
      this.#current = undefined;
    }
  }

  #start(): RecordInProgress {
    this.#current = {
      startedAt: this.#now(),
      leads: this.#settings.leads.map(() => new Int32Array(this.#recordSamples)),
      filled: 0,
      gaps: [],
      frames: 0,
      leadOffFrames: new Map(),
      paceFrames: 0,
    };
    return this.#current;
  }

  #countStatus(status: number): void {
    const record = this.#current ?? this.#start();
    record.frames += 1;
    if (status & STATUS_BITS.PACE) record.paceFrames += 1;
    for (const electrode of LEAD_OFF_BITS) {
      if (status & STATUS_BITS[electrode]) {
        record.leadOffFrames.set(electrode, (record.leadOffFrames.get(electrode) ?? 0) + 1);
      }
    }
  }

  #close(events: LineEvent[], why: string): void {
    const record = this.#current;
    this.#current = undefined;
    if (!record || record.filled === 0) return;
    const seconds = record.filled / this.#settings.samplingFrequencyHz;
    if (record.filled >= this.#minSamples) {
      const note = `cut short after ${seconds} s of ${this.#settings.recordSeconds} s: ${why}`;
      events.push({ kind: "record", record: this.#toRecord(record, note) });
    } else {
      events.push({
        kind: "discarded",
        byteCount: record.frames * this.#frameLength,
        code: "ECG_STREAM_RECORD_TOO_SHORT",
        reason: `a record cut short after ${seconds} s (${why}) is under the ${this.#settings.minRecordSeconds} s minimum`,
      });
    }
  }

  #toRecord(record: RecordInProgress, truncated: string | undefined): EcgRecord {
    const settings = this.#settings;
    const measured: EcgWaveform = {
      samplingFrequencyHz: settings.samplingFrequencyHz,
      leads: settings.leads.map((name, index) => ({
        name,
        samples: (record.leads[index] as Int32Array).slice(0, record.filled),
        nanovoltsPerUnit: settings.nanovoltsPerUnit,
      })),
    };
    const rhythm = settings.deriveLimbLeads ? withDerivedLimbLeads(measured) : measured;
    const notes: string[] = [];
    if (truncated) notes.push(truncated);
    const derived = rhythm.leads.filter((lead) => lead.derived).map((lead) => lead.name);
    if (derived.length > 0) notes.push(`${derived.join(", ")} derived by the box from I and II`);
    if (record.gaps.length > 0) {
      const lost = record.gaps.reduce((sum, gap) => sum + gap.sampleCount, 0);
      const ms = Math.round((lost * 1000) / settings.samplingFrequencyHz);
      const how = settings.gapFill === "linear" ? "linear interpolation" : "holding the last value";
      notes.push(
        `${lost} samples (${ms} ms) lost in transit in ${record.gaps.length} gap(s), filled by ${how}`,
      );
    }
    for (const [electrode, frames] of record.leadOffFrames) {
      notes.push(`the device reported electrode ${electrode} off in ${frames} of ${record.frames} frames`);
    }
    if (record.paceFrames > 0) {
      notes.push(`the device flagged a pacemaker pulse in ${record.paceFrames} frames`);
    }
    notes.push("acquisition time is the box's clock when the record's first frame arrived");
    const result: EcgRecord = {
      source: { format: "ecg-stream" },
      patient: {},
      acquisition: { date: dicomDate(record.startedAt), time: dicomTime(record.startedAt) },
      rhythm,
      notes,
    };
    if (record.gaps.length > 0) result.gaps = record.gaps;
    return result;
  }
}

const two = (n: number) => String(n).padStart(2, "0");

function dicomDate(at: Date): string {
  return `${at.getFullYear()}${two(at.getMonth() + 1)}${two(at.getDate())}`;
}

function dicomTime(at: Date): string {
  return `${two(at.getHours())}${two(at.getMinutes())}${two(at.getSeconds())}`;
}
