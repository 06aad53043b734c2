/**
 * The simulator's end of the serial line: a tty opened with the serialport library, either an
 * existing one (--device) or the far end of a socat pty pair (--link). A cable pull closes it (and
 * stops socat, so the gateway's end disappears) and brings it back after the pull.
 */
import { SerialPort } from "serialport";
import { DxgateError } from "../../common/errors.ts";
import type { SimulatorLog } from "./log.ts";
import { SocatLink } from "./socat-link.ts";

const BLOCKED_AFTER_MS = 2000;

export interface ConnectionTarget {
  device: string | undefined;
  link: string | undefined;
  baudRate: number;
  /** For a link: send nothing until a reader has opened it. */
  waitForReader: boolean;
}

export class SimulatorConnection {
  readonly #target: ConnectionTarget;
  readonly #log: SimulatorLog;
  readonly #link: SocatLink | undefined;
  #port: SerialPort | undefined;
  #portError: Error | undefined;

  constructor(target: ConnectionTarget, log: SimulatorLog) {
    this.#target = target;
    this.#log = log;
    this.#link = target.link === undefined ? undefined : new SocatLink(target.link);
  }

  /**
   * Opens the line and logs "ready" once the gateway can open it (PATH exists, or the device is
   * open), then "sending" once bytes can flow — for a link that waits for its first reader, that
   * is after the reader opened PATH.
   */
  async open(reconnected: boolean, signal: AbortSignal): Promise<void> {
    const link = this.#link;
    // Only the first time: after a cable pull the device streams on whether the gateway has
    // reopened the line yet or not (its reopen flushes what was waiting anyway).
    const waitForReader = this.#target.waitForReader && !reconnected;
    const peer = link
      ? await link.start({
          waitForReader,
          signal,
          onLink: () =>
            this.#log("ready", { link: link.linkPath, waitingForReader: waitForReader, reconnected }),
        })
      : (this.#target.device as string);
    this.#port = await openPort(peer, this.#target.baudRate);
    this.#portError = undefined;
    this.#port.on("error", (error) => {
      this.#portError = error;
    });
    if (!link) this.#log("ready", { device: peer, reconnected });
    this.#log("sending", {
      ...(link ? { link: link.linkPath, peer } : { device: peer }),
      baudRate: this.#target.baudRate,
      reconnected,
    });
  }

  /** Writes and waits until the bytes have left (back-pressure from a slow reader holds us here). */
  async write(bytes: Uint8Array): Promise<void> {
    const port = this.#port;
    if (!port) throw new DxgateError("ECG_SIM_LINE_CLOSED", "the line is closed");
    if (this.#portError) throw lineError(this.#portError);
    // A pty nobody reads fills up and then holds writes (a real UART would send into the void):
    // say so rather than look hung.
    const blocked = setTimeout(
      () => this.#log("blocked", { seconds: BLOCKED_AFTER_MS / 1000 }),
      BLOCKED_AFTER_MS,
    );
    try {
      await new Promise<void>((resolve, reject) => {
        port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), (error) => {
          if (error) reject(lineError(error));
        });
        port.drain((error) => (error ? reject(lineError(error)) : resolve()));
      });
    } finally {
      clearTimeout(blocked);
    }
  }

  /** Unplugs: closes our end and, for a link, stops socat (the gateway's end vanishes). */
  async unplug(): Promise<void> {
    await this.#closePort();
    await this.#link?.stop();
  }

  async close(): Promise<void> {
    await this.unplug();
  }

  /**
   * Stop now, even while a write waits on a reader that does not read: socat goes first (the
   * blocked write then fails), then our end.
   */
  async abort(): Promise<void> {
    await this.#link?.stop();
    await this.#closePort();
  }

  async #closePort(): Promise<void> {
    const port = this.#port;
    this.#port = undefined;
    if (!port?.isOpen) return;
    await new Promise<void>((resolve) => {
      port.close(() => resolve());
    });
  }
}

function openPort(path: string, baudRate: number): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    port.open((error) => {
      if (error) reject(new DxgateError("ECG_SIM_LINE_OPEN", `cannot open ${path}: ${error.message}`));
      else resolve(port);
    });
  });
}

function lineError(error: Error): DxgateError {
  return new DxgateError("ECG_SIM_LINE_WRITE", `writing to the line failed: ${error.message}`);
}
