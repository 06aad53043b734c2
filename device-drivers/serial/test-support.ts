/**
 * Test helpers for the serial drivers: a pseudo-terminal pair made by socat (the way the tests and
 * the simulator stand in for a cable), and a tiny line protocol so driver tests need no real ECG
 * decoder. Test code only.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { lstat, open, readdir } from "node:fs/promises";
import type { EcgRecord } from "../ecg/ecg-record.ts";
import type { LineDecoder, LineEvent } from "../ecg/line-decoder.ts";
import type { SerialProtocol } from "./protocols.ts";

export interface PtyPair {
  /** The end the gateway opens (a symlink to /dev/pts/N). */
  device: string;
  /** The end the test writes to, standing in for the cart. */
  cart: string;
  process: ChildProcess;
  /** Write bytes as the cart would (opens and closes the cart end each time). */
  write(bytes: Uint8Array | string): Promise<void>;
  /** Pull the cable: socat exits and both links disappear. */
  close(): Promise<void>;
}

/** A socat pty pair with symlinks `device` and `cart`; resolves once both links exist. */
export async function openPtyPair(device: string, cart: string): Promise<PtyPair> {
  const child = spawn("socat", [`pty,raw,echo=0,link=${device}`, `pty,raw,echo=0,link=${cart}`], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = once(child, "exit");
  const deadline = Date.now() + 5000;
  while (!(await exists(device)) || !(await exists(cart))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`socat did not create ${device} and ${cart}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  // Keep the cart end open for the pair's lifetime: a pty whose last opener closes may drop input.
  const cartHandle = await open(cart, "r+");
  return {
    device,
    cart,
    process: child,
    async write(bytes) {
      await cartHandle.write(typeof bytes === "string" ? Buffer.from(bytes) : bytes);
    },
    async close() {
      await cartHandle.close().catch(() => undefined);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** Open file descriptors of this process (to show a driver leaks none). */
export async function openDescriptorCount(): Promise<number> {
  return (await readdir("/proc/self/fd")).length;
}

/**
 * "TEXT" protocol for tests: each line `REC <id> <n>` is a record of n samples whose patient id is
 * <id>; a line starting `#` is valid protocol data that completes nothing (a heartbeat); anything
 * else is discarded. An unfinished line at end() is discarded (nothing is cut short).
 */
export const TEXT_PROTOCOL: SerialProtocol = {
  name: "text",
  description: "newline-delimited test records",
  settingsSchema: {
    type: "object",
    additionalProperties: false,
    properties: { samplingFrequencyHz: { type: "integer", minimum: 1, default: 500 } },
  },
  createDecoder(settings) {
    return new TextDecoderForTests(settings.samplingFrequencyHz as number);
  },
};

class TextDecoderForTests implements LineDecoder {
  readonly #hz: number;
  #pending = "";

  constructor(hz: number) {
    this.#hz = hz;
  }

  push(chunk: Uint8Array): LineEvent[] {
    this.#pending += Buffer.from(chunk).toString("latin1");
    const events: LineEvent[] = [];
    let newline = this.#pending.indexOf("\n");
    while (newline >= 0) {
      const line = this.#pending.slice(0, newline);
      this.#pending = this.#pending.slice(newline + 1);
      const match = /^REC (\S+) (\d+)$/.exec(line);
      if (match) events.push({ kind: "record", record: textRecord(match[1]!, Number(match[2]), this.#hz) });
      else if (line.startsWith("#")) events.push({ kind: "receiving" });
      else
        events.push({
          kind: "discarded",
          byteCount: line.length + 1,
          reason: "not a record",
          code: "TEXT_GARBAGE",
        });
      newline = this.#pending.indexOf("\n");
    }
    return events;
  }

  end(): LineEvent[] {
    const rest = this.#pending.length;
    this.#pending = "";
    return rest > 0
      ? [{ kind: "discarded", byteCount: rest, reason: "line cut short", code: "TEXT_TRUNCATED" }]
      : [];
  }
}

export function textRecord(patientId: string, samples: number, hz = 500): EcgRecord {
  return {
    source: { format: "ecg-stream" },
    patient: { id: patientId },
    acquisition: {},
    rhythm: {
      samplingFrequencyHz: hz,
      leads: ["I", "II"].map((name) => ({
        name,
        samples: Int32Array.from({ length: samples }, (_, k) => k),
        nanovoltsPerUnit: 1000,
      })),
    },
  };
}
