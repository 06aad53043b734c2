/**
 * Runs dxgate processes as real child processes for integration tests: spawns them on the same
 * pinned Node.js, collects their JSON log lines, and waits for the `listening` lines that give the
 * real ports (every test uses port 0, so suites and demo stacks can run side by side).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";

export const ROOT = join(import.meta.dirname, "..", "..");

export interface LogLine {
  msg?: string;
  service?: string;
  port?: number;
  level?: number;
  [key: string]: unknown;
}

export interface RunningProcess {
  child: ChildProcess;
  /** Every stdout/stderr line so far (raw text), for assertions and for failure messages. */
  output: string[];
  lines: LogLine[];
  /** The port from the `listening` line of `service`. */
  port(service: string): number;
  waitForLine(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL (power cut, as far as the process is concerned) and wait for exit. */
  kill(): Promise<void>;
}

export async function startProcess(
  script: string,
  env: Record<string, string>,
  listening: string[],
  timeoutMs = 20_000,
  nodeFlags: readonly string[] = [],
): Promise<RunningProcess> {
  const child = spawn(process.execPath, [...nodeFlags, join(ROOT, script)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const lines: LogLine[] = [];
  const waiters: Array<{ predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  const onLine = (text: string) => {
    output.push(text);
    let parsed: LogLine | undefined;
    try {
      parsed = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    lines.push(parsed);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(parsed)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(parsed);
      }
    }
  };
  createInterface({ input: child.stdout! }).on("line", onLine);
  createInterface({ input: child.stderr! }).on("line", onLine);
  const exited = once(child, "exit");

  const waitForLine = (predicate: (line: LogLine) => boolean, waitMs = timeoutMs) => {
    const seen = lines.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `timed out waiting for a log line from ${script}; output:\n${output.slice(-40).join("\n")}`,
          ),
        );
      }, waitMs);
      const early = () => {
        clearTimeout(timer);
        reject(
          new Error(
            `${script} exited early (code ${child.exitCode}); output:\n${output.slice(-40).join("\n")}`,
          ),
        );
      };
      exited.then(early, early);
      waiters.push({
        predicate,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  };

  const ports = new Map<string, number>();
  for (const service of listening) {
    const line = await waitForLine((l) => l.msg === "listening" && l.service === service);
    ports.set(service, line.port as number);
  }

  return {
    child,
    output,
    lines,
    port(service) {
      const port = ports.get(service);
      if (port === undefined) throw new Error(`no listening line for ${service}`);
      return port;
    },
    waitForLine,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      return code;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Poll `probe` until it returns a value other than undefined, or fail after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

/** A TCP port that was free a moment ago (for a process that must come back on the same port). */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * Clean-up in reverse order of set-up (processes before the directories they write to), registered
 * as one `after` hook of the test.
 */
export function deferrer(t: { after: (fn: () => Promise<void>) => void }): (fn: () => unknown) => void {
  const steps: Array<() => unknown> = [];
  t.after(async () => {
    for (const step of steps.reverse()) await step();
  });
  return (fn) => {
    steps.push(fn);
  };
}
