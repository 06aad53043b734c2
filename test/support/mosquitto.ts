/**
 * Test support: a real Mosquitto 2 on a free loopback port, configured like a county's (no anonymous
 * access, a password file and an ACL file, the dxgate packet size limit, persistence off), optionally
 * with a TLS listener. Killed on `stop()`; callers register that with `t.after` so a failing test
 * leaves no broker behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MosquittoListener, mosquittoConf } from "../../reading-centre/broker/mosquitto-config.ts";

export const MOSQUITTO_BIN = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"].find(
  existsSync,
);

/** For `test(..., { skip })`: false when mosquitto is installed, else the reason. */
export const SKIP_WITHOUT_MOSQUITTO = MOSQUITTO_BIN
  ? false
  : "mosquitto is not installed (apt-get install mosquitto)";

export interface RunningMosquitto {
  port: number;
  /** The TLS listener's port, when one was asked for. */
  tlsPort?: number;
  /** Broker log lines (stderr) so far. */
  output: string[];
  /** Rewrite nothing, just make mosquitto re-read its password and ACL files (SIGHUP). */
  reload(): void;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function startMosquitto(options: {
  passwordFile: string;
  aclFile: string;
  tls?: MosquittoListener["tls"];
}): Promise<RunningMosquitto> {
  if (!MOSQUITTO_BIN) throw new Error("mosquitto is not installed");
  const dir = await mkdtemp(join(tmpdir(), "dxgate-mosquitto-"));
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : undefined;
  const listeners: MosquittoListener[] = [{ port, host: "127.0.0.1" }];
  if (options.tls && tlsPort !== undefined)
    listeners.push({ port: tlsPort, host: "127.0.0.1", tls: options.tls });
  const conf = join(dir, "mosquitto.conf");
  // As root, mosquitto would switch to its own user, who cannot read our private temp files.
  const user = process.getuid?.() === 0 ? "user root\n" : "";
  await writeFile(
    conf,
    user + mosquittoConf({ passwordFile: options.passwordFile, aclFile: options.aclFile, listeners }),
  );
  const child: ChildProcess = spawn(MOSQUITTO_BIN, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  const output: string[] = [];
  child.stderr!.on("data", (data: Buffer) => output.push(...data.toString().split("\n").filter(Boolean)));
  const exited = once(child, "exit");
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 10_000;
    for (const p of [port, ...(tlsPort === undefined ? [] : [tlsPort])]) {
      while (!(await canConnect(p))) {
        if (child.exitCode !== null)
          throw new Error(`mosquitto exited (${child.exitCode}):\n${output.join("\n")}`);
        if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${p}:\n${output.join("\n")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port,
    ...(tlsPort === undefined ? {} : { tlsPort }),
    output,
    reload: () => child.kill("SIGHUP"),
    stop,
  };
}
