/**
 * One open serial line, reduced to what the driver needs: bytes in, and exactly one "closed" notice
 * however the line ends — closed by us, a read error, or end-of-stream.
 *
 * The port is opened (termios line settings, exclusive lock) through the serialport library's
 * platform binding, but read by our own loop rather than serialport's stream. Why: on Linux a tty
 * whose device is gone — a USB-serial adapter unplugged, the far end of a pseudo-terminal closed —
 * is "hung up", and a hung-up tty reads 0 bytes at once, forever. serialport's reader (bindings-cpp
 * unixRead) answers a 0-byte read by reading again, so an unplug becomes a busy loop that never
 * reports the disconnect and grows memory without bound. Here a 0-byte read is what it means on
 * a tty: end of stream, the device is gone; the line is closed and the driver told.
 */
import { read } from "node:fs";
import { promisify } from "node:util";
import { SerialPort } from "serialport";
import type { LineSettings } from "./profile.ts";

export interface OpenLine {
  onData(listener: (chunk: Uint8Array) => void): void;
  /** Called once when the line is closed; `error` is absent only when we closed it ourselves. */
  onClosed(listener: (error?: Error) => void): void;
  /** Close the line (idempotent); resolves once the file descriptor is released. */
  close(): Promise<void>;
}

/** Opens `path` with the profile's line settings; rejects with the reason when it cannot be opened. */
export type LineOpener = (path: string, settings: LineSettings) => Promise<OpenLine>;

/** The part of serialport's port binding we use (every platform's binding has these). */
interface PortBinding {
  readonly isOpen: boolean;
  read(buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

/** What the Linux and macOS bindings add: the descriptor and its readiness poller. */
interface UnixPortBinding extends PortBinding {
  fd: number | null;
  poller: { once(event: "readable", listener: (error?: Error | null) => void): unknown };
}

const readAsync = promisify(read);
const READ_SIZE = 64 * 1024;

export const openSerialLine: LineOpener = async (path, settings) => {
  const port = (await SerialPort.binding.open({
    path,
    baudRate: settings.baudRate,
    dataBits: settings.dataBits,
    parity: settings.parity,
    stopBits: settings.stopBits,
    rtscts: settings.flowControl === "rtscts",
    xon: settings.flowControl === "xonxoff",
    xoff: settings.flowControl === "xonxoff",
    // Exclusive (flock): two processes reading one cart would each get half the bytes.
    lock: true,
  })) as unknown as PortBinding;
  return new SerialLine(port);
};

class SerialLine implements OpenLine {
  readonly #port: PortBinding;
  #dataListener: ((chunk: Uint8Array) => void) | undefined;
  #closedListener: ((error?: Error) => void) | undefined;
  #closing: Promise<void> | undefined;
  #closedBy: Error | undefined;
  #reported = false;
  #closeRequested = false;
  /** The read of the descriptor now in the thread pool, if any. */
  #reading: Promise<unknown> | undefined;

  constructor(port: PortBinding) {
    this.#port = port;
  }

  onData(listener: (chunk: Uint8Array) => void): void {
    this.#dataListener = listener;
    void this.#readLoop();
  }

  onClosed(listener: (error?: Error) => void): void {
    this.#closedListener = listener;
    if (this.#closing) void this.#closing.then(() => this.#report());
  }

  close(): Promise<void> {
    this.#closeRequested = true;
    return this.#shutDown(undefined);
  }

  #shutDown(cause: Error | undefined): Promise<void> {
    this.#closing ??= (async () => {
      this.#closedBy = cause;
      // Never close the descriptor under a read in flight in the thread pool: its number could be
      // reused at once by another open (a DICOM socket) and the read would take that one's bytes.
      // The descriptor is non-blocking, so the wait is short.
      await this.#reading?.catch(() => undefined);
      if (this.#port.isOpen) {
        // A failing close(2) still releases the descriptor on Linux: nothing more we can do.
        await this.#port.close().catch(() => undefined);
      }
      this.#report();
    })();
    return this.#closing;
  }

  #report(): void {
    if (this.#reported || !this.#closedListener) return;
    this.#reported = true;
    this.#closedListener(this.#closedBy);
  }

  async #readLoop(): Promise<void> {
    const buffer = Buffer.allocUnsafe(READ_SIZE);
    while (!this.#closing) {
      let bytesRead: number;
      try {
        bytesRead = await this.#readSome(buffer);
      } catch (error) {
        if (!this.#closeRequested) await this.#shutDown(error as Error);
        return;
      }
      if (this.#closing) return;
      if (bytesRead === 0) {
        await this.#shutDown(new Error("end of stream (the device hung up)"));
        return;
      }
      // A copy: the read buffer is reused, decoders may keep what they are given.
      this.#dataListener?.(Uint8Array.prototype.slice.call(buffer, 0, bytesRead));
    }
  }

  /** Waits for data; 0 = end of stream. */
  async #readSome(buffer: Buffer): Promise<number> {
    const unix = this.#port as Partial<UnixPortBinding>;
    if (typeof unix.fd !== "number" || !unix.poller) {
      return (await this.#port.read(buffer, 0, buffer.length)).bytesRead;
    }
    for (;;) {
      const fd: number | null | undefined = unix.fd;
      if (typeof fd !== "number" || this.#closing) throw new Error("port closed");
      const reading = readAsync(fd, buffer, 0, buffer.length, null);
      this.#reading = reading;
      try {
        return (await reading).bytesRead;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== "EAGAIN" && code !== "EWOULDBLOCK" && code !== "EINTR") throw error;
      } finally {
        this.#reading = undefined;
      }
      // The port may have been closed while the read was out: its poller is then destroyed, and
      // polling a destroyed poller is a use-after-free in the native binding (a segfault, seen).
      if (this.#closing || unix.fd !== fd || !this.#port.isOpen) throw new Error("port closed");
      // Non-blocking descriptor with nothing to read: wait until the poller says it is readable
      // (closing the port cancels the wait with an error).
      await new Promise<void>((resolve, reject) =>
        unix.poller!.once("readable", (error) => (error ? reject(error) : resolve())),
      );
    }
  }
}
