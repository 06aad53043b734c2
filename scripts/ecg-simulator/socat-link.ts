/**
 * A pseudo-terminal pair made by socat, standing in for a USB-serial cable:
 *
 *   socat -d -d pty,raw,echo=0,link=PATH pty,raw,echo=0
 *
 * The gateway opens PATH (a symlink to the first pty); the simulator writes into the second, whose
 * name socat prints on stderr ("PTY is /dev/pts/N", the second such line). Stopping socat removes
 * PATH and hangs up the gateway's end, exactly what unplugging a USB adapter looks like.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { DxgateError } from "../../common/errors.ts";

const READY_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 2000;

export class SocatLink {
  readonly linkPath: string;
  #child: ChildProcess | undefined;
  #exited: Promise<unknown> | undefined;
  readonly #terminated = new WeakSet<ChildProcess>();

  constructor(linkPath: string) {
    // socat reads commas, colons and exclamation marks in an address as syntax.
    if (!/^[\w./+@-]+$/.test(linkPath)) {
      throw new DxgateError(
        "ECG_SIM_LINK_PATH",
        `link path ${linkPath}: use letters, digits and . / _ - + @ only`,
      );
    }
    this.linkPath = linkPath;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /**
   * Starts socat; resolves with the pty the simulator writes into once the pair carries data. With
   * `waitForReader`, socat holds the pair back until a reader has opened PATH (so nothing is sent
   * into a pty nobody reads: a reader's open flushes what was waiting); `onLink` is called as soon
   * as PATH exists.
   */
  async start(
    options: { waitForReader?: boolean; onLink?: () => void; signal?: AbortSignal } = {},
  ): Promise<string> {
    if (this.running)
      throw new DxgateError("ECG_SIM_LINK_RUNNING", `socat already runs for ${this.linkPath}`);
    const first = options.waitForReader
      ? `pty,raw,echo=0,wait-slave,pty-interval=0.05,link=${this.linkPath}`
      : `pty,raw,echo=0,link=${this.linkPath}`;
    const child = spawn("socat", ["-d", "-d", first, "pty,raw,echo=0"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.#child = child;
    this.#exited = once(child, "exit").catch(() => undefined);
    const ptys: string[] = [];
    const lines: string[] = [];
    return await new Promise<string>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => fail(`not ready after ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
      };
      const settle = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        child.off("exit", onEarlyExit);
        child.off("error", onError);
        child.on("error", () => {});
      };
      const fail = (why: string) => {
        settle();
        this.#terminate(child);
        reject(
          new DxgateError(
            "ECG_SIM_LINK_FAILED",
            `socat for ${this.linkPath} ${why}: ${lines.slice(-3).join(" | ")}`,
          ),
        );
      };
      const onAbort = () => fail("stopped before the link was ready");
      options.signal?.addEventListener("abort", onAbort, { once: true });
      arm();
      const onError = (error: Error) => fail(`could not start (${error.message}; is socat installed?)`);
      const onEarlyExit = (code: number | null, signal: string | null) =>
        fail(`exited (${signal ?? code}) before the link was ready`);
      child.once("error", onError);
      child.once("exit", onEarlyExit);
      createInterface({ input: child.stderr! }).on("line", (line) => {
        lines.push(line);
        if (lines.length > 20) lines.shift();
        const pty = /PTY is (\S+)/.exec(line);
        if (pty?.[1]) {
          ptys.push(pty[1]);
          if (ptys.length === 1) {
            // socat prints the name a moment before it makes the link: announce it once it is there.
            void waitForPath(this.linkPath).then(() => options.onLink?.());
            // Waiting for a reader takes as long as it takes (the gateway may start later).
            if (options.waitForReader) clearTimeout(timer);
          } else arm();
        }
        if (/starting data transfer loop/.test(line) && ptys.length === 2) {
          settle();
          resolve(ptys[1] as string);
        }
      });
    });
  }

  /** Stops socat (it removes the link); resolves once it has exited. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    this.#terminate(child);
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  /**
   * SIGTERM, once: socat removes the link on its way out, but a second signal arriving while it
   * cleans up makes it exit at once and leave the link behind.
   */
  #terminate(child: ChildProcess): void {
    if (this.#terminated.has(child)) return;
    this.#terminated.add(child);
    child.kill("SIGTERM");
  }
}

async function waitForPath(path: string): Promise<void> {
  for (let waited = 0; !existsSync(path) && waited < READY_TIMEOUT_MS; waited += 5) await sleep(5);
}
