/**
 * The driver of one serial device: opens the line with its profile's settings, feeds what arrives to
 * a fresh protocol decoder, hands each complete record on, and keeps the state the API shows.
 *
 * Unplugged = the line closed under us (read error, end-of-stream, error event): the decoder is
 * ended (a stream record cut short is still delivered, marked so), the port is closed (no leaked
 * descriptor), and the line is reopened after a jittered back-off — sooner when the watcher sees
 * the device come back (`retryNow`). A line that fails at once, again and again, backs off up to
 * the maximum; one that stayed up or delivered data starts from the base again.
 *
 *   disconnected ──open──▶ connected ──valid data──▶ receiving ──idle──▶ connected
 *        ▲                     │                          │
 *        └──── line lost ──────┴──────────────────────────┘        (error: open refused, no profile)
 */
import { stat } from "node:fs/promises";
import type { Logger } from "../../common/logger.ts";
import type { EcgRecord } from "../ecg/ecg-record.ts";
import type { LineDecoder, LineEvent } from "../ecg/line-decoder.ts";
import { Backoff } from "./backoff.ts";
import type { DeviceProfile } from "./profile.ts";
import type { SerialProtocol } from "./protocols.ts";
import type { LineOpener, OpenLine } from "./serial-line.ts";

/** At most one "data discarded" log line per device this often (plus the first). */
const DISCARD_LOG_MS = 10_000;

export type SerialDeviceState = "connected" | "receiving" | "disconnected" | "error";

export interface DeviceError {
  code: string;
  message: string;
  at: string;
}

/** What the API shows of a device: no patient data, ever. */
export interface SerialDeviceStatus {
  path: string;
  aliases: string[];
  /** Attached by configuration (DXGATE_SERIAL, serial.devices) rather than found by hot-plug. */
  explicit: boolean;
  usb: { vendorId: string; productId: string; serialNumber?: string; product?: string } | null;
  profile: string | null;
  protocol: string | null;
  state: SerialDeviceState;
  /** When `state` last changed. */
  since: string;
  lastRecordAt: string | null;
  recordsReceived: number;
  bytesReceived: number;
  bytesDiscarded: number;
  lastError: DeviceError | null;
}

/** The device a record came from, as the record's consumer needs it (safe to log). */
export interface RecordOrigin {
  devicePath: string;
  profile: DeviceProfile;
}

export interface SerialDeviceOptions {
  path: string;
  profile: DeviceProfile;
  protocol: SerialProtocol;
  openLine: LineOpener;
  /**
   * Called for each complete record, one at a time per device (the next waits for this one).
   * `raw` = the record's own bytes when the protocol has a file form (SCP-ECG).
   */
  onRecord(record: EcgRecord, origin: RecordOrigin, raw?: Uint8Array): Promise<void>;
  log: Logger;
  reopen: { baseMs: number; maxMs: number };
  /** `receiving` falls back to `connected` after this long without valid protocol data. */
  idleMs: number;
  /** A line that stayed open this long (or delivered valid data) resets the back-off. */
  stableMs?: number;
  status: SerialDeviceStatus;
  now?: () => Date;
}

export class SerialDevice {
  readonly #o: SerialDeviceOptions;
  readonly #backoff: Backoff;
  readonly #log: Logger;
  #running = false;
  #line: OpenLine | undefined;
  #opening: Promise<void> | undefined;
  #decoder: LineDecoder | undefined;
  #openedAt = 0;
  #validData = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /** Records are handed on one at a time, in order. */
  #records: Promise<void> = Promise.resolve();
  /** Discards since the last discard log line. */
  #discards = { loggedAt: 0, events: 0, bytes: 0 };

  constructor(options: SerialDeviceOptions) {
    this.#o = options;
    this.#backoff = new Backoff(options.reopen);
    this.#log = options.log.child({ devicePath: options.path, profile: options.profile.id });
  }

  get status(): SerialDeviceStatus {
    return this.#o.status;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#backoff.reset();
    void this.#attempt();
  }

  /** The watcher saw the device (re)appear: try now instead of waiting out the back-off. */
  retryNow(): void {
    if (!this.#running || this.#line || this.#opening) return;
    clearTimeout(this.#retryTimer);
    void this.#attempt();
  }

  /** Close the line, deliver what the decoder can still complete, wait for records being handed on. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#retryTimer);
    await this.#opening;
    await this.#line?.close();
    clearTimeout(this.#idleTimer);
    await this.#records;
  }

  #now(): Date {
    return this.#o.now ? this.#o.now() : new Date();
  }

  #setState(state: SerialDeviceState): void {
    if (this.#o.status.state === state) return;
    this.#o.status.state = state;
    this.#o.status.since = this.#now().toISOString();
  }

  #error(code: string, message: string): void {
    this.#o.status.lastError = { code, message, at: this.#now().toISOString() };
  }

  #attempt(): Promise<void> {
    const opening = this.#open().finally(() => {
      this.#opening = undefined;
    });
    this.#opening = opening;
    return opening;
  }

  async #open(): Promise<void> {
    if (!this.#running || this.#line) return;
    const { path, profile, protocol } = this.#o;
    try {
      await stat(path);
    } catch {
      // Not there (yet): a configured pty link, or an adapter between unplug and the watcher noticing.
      if (this.#o.status.lastError?.code !== "SERIAL_DEVICE_ABSENT") {
        this.#error("SERIAL_DEVICE_ABSENT", `${path} does not exist (waiting for it)`);
      }
      this.#setState("disconnected");
      this.#retryLater();
      return;
    }
    let line: OpenLine;
    try {
      line = await this.#o.openLine(path, profile.line);
    } catch (error) {
      const message = (error as Error).message.replace(/^(Error: )+/, "");
      this.#error("SERIAL_OPEN_FAILED", message);
      this.#setState("error");
      if (this.#backoff.attempts === 0)
        this.#log.warn({ event: "serial-open-failed", reason: message }, "cannot open serial device");
      this.#retryLater();
      return;
    }
    if (!this.#running) {
      await line.close();
      return;
    }
    this.#line = line;
    this.#decoder = protocol.createDecoder(profile.protocolSettings);
    this.#openedAt = Date.now();
    this.#validData = false;
    this.#setState("connected");
    // "Not there yet" was a wait, not a fault: once the device is there it says nothing more.
    if (this.#o.status.lastError?.code === "SERIAL_DEVICE_ABSENT") this.#o.status.lastError = null;
    this.#log.info({ event: "serial-connected", protocol: protocol.name }, "serial device connected");
    line.onData((chunk) => this.#feed(chunk));
    line.onClosed((error) => this.#closed(line, error));
  }

  #retryLater(): void {
    if (!this.#running) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.#attempt(), this.#backoff.next());
  }

  #feed(chunk: Uint8Array): void {
    const decoder = this.#decoder;
    if (!decoder) return;
    this.#o.status.bytesReceived += chunk.length;
    let events: LineEvent[];
    try {
      events = decoder.push(chunk);
    } catch (error) {
      // The contract says decoders never throw; if one does, the line must survive it: start afresh.
      this.#log.error({ event: "serial-decoder-failed", err: error }, "decoder threw; reset");
      this.#decoder = this.#o.protocol.createDecoder(this.#o.profile.protocolSettings);
      events = [
        { kind: "discarded", byteCount: chunk.length, reason: "decoder failed", code: "DECODER_FAILED" },
      ];
    }
    this.#handle(events);
  }

  #handle(events: LineEvent[]): void {
    for (const event of events) {
      if (event.kind === "discarded") {
        this.#o.status.bytesDiscarded += event.byteCount;
        this.#error(event.code, event.reason);
        this.#logDiscard(event);
        continue;
      }
      this.#receiving();
      if (event.kind !== "record") continue;
      const { record, raw } = event;
      this.#o.status.recordsReceived += 1;
      this.#o.status.lastRecordAt = this.#now().toISOString();
      this.#log.info(
        {
          event: "serial-record",
          format: record.source.format,
          leads: record.rhythm.leads.length,
          samplingFrequencyHz: record.rhythm.samplingFrequencyHz,
          gaps: record.gaps?.length ?? 0,
        },
        "ECG record received",
      );
      const origin: RecordOrigin = { devicePath: this.#o.path, profile: this.#o.profile };
      this.#records = this.#records.then(() =>
        this.#o.onRecord(record, origin, raw).catch((error: unknown) => {
          const code = (error as { code?: string }).code ?? "ECG_STORE_FAILED";
          this.#error(code, (error as Error).message);
          this.#log.error({ event: "serial-record-failed", code, err: error }, "ECG record not stored");
        }),
      );
    }
  }

  /**
   * A line at the wrong baud rate is nothing but garbage, many discards a second: log the first,
   * then at most one summary per DISCARD_LOG_MS (the counts are in the device's state anyway).
   */
  #logDiscard(event: Extract<LineEvent, { kind: "discarded" }>): void {
    const now = Date.now();
    this.#discards.events += 1;
    this.#discards.bytes += event.byteCount;
    if (now - this.#discards.loggedAt < DISCARD_LOG_MS) return;
    this.#log.warn(
      {
        event: "serial-bytes-discarded",
        code: event.code,
        reason: event.reason,
        bytes: this.#discards.bytes,
        discards: this.#discards.events,
      },
      "serial data discarded",
    );
    this.#discards = { loggedAt: now, events: 0, bytes: 0 };
  }

  #receiving(): void {
    this.#validData = true;
    if (this.#line) this.#setState("receiving");
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#line && this.#o.status.state === "receiving") this.#setState("connected");
    }, this.#o.idleMs);
    this.#idleTimer.unref();
  }

  #closed(line: OpenLine, error: Error | undefined): void {
    if (this.#line !== line) return;
    this.#line = undefined;
    clearTimeout(this.#idleTimer);
    const decoder = this.#decoder;
    this.#decoder = undefined;
    // Whatever the decoder can still complete (a stream record cut short) is delivered, marked so.
    if (decoder) {
      try {
        this.#handle(decoder.end());
      } catch (failure) {
        this.#log.error({ event: "serial-decoder-failed", err: failure }, "decoder end threw");
      }
    }
    this.#setState("disconnected");
    if (error) this.#error("SERIAL_LINE_LOST", `line closed: ${error.message}`);
    this.#log.info(
      { event: "serial-disconnected", reason: error ? error.message : "closed by the gateway" },
      "serial device disconnected",
    );
    const stableMs = this.#o.stableMs ?? 10_000;
    if (this.#validData || Date.now() - this.#openedAt >= stableMs) this.#backoff.reset();
    this.#retryLater();
  }
}
