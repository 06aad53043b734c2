/**
 * A per-connection limit on MQTT packet size, enforced before the packet is buffered.
 *
 * aedes (through mqtt-packet) accepts any Remaining Length the protocol can express, up to 256 MB
 * (MQTT 3.1.1 §2.2.3), and buffers the whole packet before anyone can look at it; one client could
 * make the broker hold hundreds of megabytes per connection. This guard sits between the socket and
 * aedes, reads only each packet's fixed header (§2.2: one type/flags byte, then the Remaining
 * Length as a variable byte integer of at most four bytes), and cuts the connection as soon as a
 * declared length exceeds the limit. Bytes pass through unchanged; the body is skipped by counting.
 */
import type { Socket } from "node:net";
import { Duplex } from "node:stream";

export type GuardProblem = { code: "MQTT_PACKET_TOO_LARGE"; length: number } | { code: "MQTT_BAD_LENGTH" };

/** Tracks packet boundaries across arbitrary TCP segment splits. */
export class FixedHeaderScanner {
  readonly #limit: number;
  #state: "type" | "length" | "body" = "type";
  #value = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  #remaining = 0;

  constructor(maxRemainingLength: number) {
    this.#limit = maxRemainingLength;
  }

  /** Feed the next bytes of the stream; a problem means the connection must be closed. */
  feed(chunk: Uint8Array): GuardProblem | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === "body") {
        const take = Math.min(this.#remaining, chunk.length - i);
        this.#remaining -= take;
        i += take;
        if (this.#remaining === 0) this.#state = "type";
        continue;
      }
      const byte = chunk[i++]!;
      if (this.#state === "type") {
        this.#state = "length";
        this.#value = 0;
        this.#multiplier = 1;
        this.#lengthBytes = 0;
        continue;
      }
      this.#value += (byte & 0x7f) * this.#multiplier;
      this.#multiplier *= 128;
      this.#lengthBytes++;
      if (byte & 0x80) {
        // §2.2.3: the Remaining Length uses at most four bytes.
        if (this.#lengthBytes >= 4) return { code: "MQTT_BAD_LENGTH" };
        continue;
      }
      if (this.#value > this.#limit) return { code: "MQTT_PACKET_TOO_LARGE", length: this.#value };
      this.#remaining = this.#value;
      this.#state = this.#remaining === 0 ? "type" : "body";
    }
    return undefined;
  }
}

/** The socket as aedes sees it: same bytes, but closed on an oversized or malformed packet header. */
export class SizeGuardedConnection extends Duplex {
  readonly #socket: Socket;

  constructor(socket: Socket, maxRemainingLength: number, onReject: (problem: GuardProblem) => void) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    const scanner = new FixedHeaderScanner(maxRemainingLength);
    socket.on("data", (chunk: Buffer) => {
      const problem = scanner.feed(chunk);
      if (problem) {
        onReject(problem);
        this.destroy();
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on("end", () => this.push(null));
    socket.on("error", (error) => this.destroy(error));
    socket.on("close", () => this.destroy());
  }

  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#socket.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#socket.destroy();
    callback(error);
  }
}
