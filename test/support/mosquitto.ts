/**
 * Test support: a real Mosquitto 2 on a free loopback port, configured like a county's (no anonymous
 * access, a password file and an ACL file, the dxgate packet size limit, persistence off), optionally
 * with a TLS listener. Killed on `stop()`; callers register that with `t.after` so a failing test
 * leaves no broker behind.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import mqtt from "mqtt";
import { initCa, issueBox, issueServer } from "../../reading-centre/boxes/county-ca.ts";
import {
  generateMosquittoFiles,
  type MosquittoListener,
  mosquittoConf,
  mosquittoPasswordHash,
  RECEIVER_USERNAME,
  readBoxRegistry,
} from "../../reading-centre/broker/mosquitto-config.ts";
import { type RunningProcess, startProcess } from "./processes.ts";

const _execFileAsync = promisify(execFile);

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
  // Should this test process end without its teardown (a crash), the broker goes with it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  exited.then(() => process.off("exit", killOnExit));
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

/** A county's Mosquitto: its files generated from the reading centre's box registry. */
export interface CountyMosquitto {
  broker: RunningMosquitto;
  port: number;
  /** What the reading centre (and chunk workers) connect with: the receiver user in the URL. */
  receiverUrl: string;
  /**
   * Regenerate the password and ACL files from the registry (as `npm run mosquitto-config` does),
   * make mosquitto reload them, and wait until `login` (if given) is let in.
   */
  sync(login?: { username: string; password: string }): Promise<void>;
  stop(): Promise<void>;
}

export async function startCountyMosquitto(rcDataDir: string, countyId = "county"): Promise<CountyMosquitto> {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-county-mq-"));
  const passwordFile = join(dir, "passwd");
  const aclFile = join(dir, "acl");
  const receiverPassword = randomBytes(18).toString("base64url");
  const receiverHash = mosquittoPasswordHash(receiverPassword);
  const write = async () => {
    const files = generateMosquittoFiles({
      countyId,
      registry: await readBoxRegistry(rcDataDir),
      receiver: { username: RECEIVER_USERNAME, passwordHash: receiverHash },
    });
    await writeFile(passwordFile, files.passwords, { mode: 0o600 });
    await writeFile(aclFile, files.acl);
  };
  await write();
  let broker: RunningMosquitto;
  try {
    broker = await startMosquitto({ passwordFile, aclFile });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const port = broker.port;
  return {
    broker,
    port,
    receiverUrl: `mqtt://${RECEIVER_USERNAME}:${receiverPassword}@127.0.0.1:${port}`,
    async sync(login) {
      await write();
      broker.reload();
      if (!login) return;
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          const probe = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
            protocolVersion: 4,
            username: login.username,
            password: login.password,
            reconnectPeriod: 0,
            connectTimeout: 2000,
          });
          await probe.endAsync(true);
          return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async stop() {
      await broker.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The reading centre as a process on the county's Mosquitto (no embedded broker): demo mode, HTTP on
 * a free port; resolves once its receiver is subscribed. `env` adds or overrides variables.
 */
export async function startReadingCentreOnMosquitto(
  dataDir: string,
  mosquitto: CountyMosquitto,
  env: Record<string, string> = {},
): Promise<RunningProcess> {
  const rc = await startProcess(
    "reading-centre/main.ts",
    {
      DXGATE_RC_DATA_DIR: dataDir,
      DXGATE_RC_HTTP_PORT: "0",
      DXGATE_RC_HTTP_HOST: "127.0.0.1",
      DXGATE_RC_DEMO: "1",
      DXGATE_RC_REPORT_RETRY_MS: "1000",
      DXGATE_RC_BROKER_URL: mosquitto.receiverUrl,
      ...env,
    },
    ["http"],
  );
  try {
    await rc.waitForLine((l) => l.msg === "mqtt receiver connected", 20_000);
  } catch (error) {
    await rc.stop();
    throw error;
  }
  return rc;
}

/** A chunk worker process (reading-centre/chunk-worker.ts) on the county's Mosquitto; resolves once subscribed. */
export async function startChunkWorker(
  dataDir: string,
  mosquitto: CountyMosquitto,
  env: Record<string, string> = {},
): Promise<RunningProcess> {
  const worker = await startProcess(
    "reading-centre/chunk-worker.ts",
    { DXGATE_RC_DATA_DIR: dataDir, DXGATE_RC_BROKER_URL: mosquitto.receiverUrl, ...env },
    [],
  );
  try {
    await worker.waitForLine((l) => l.msg === "mqtt receiver connected", 20_000);
  } catch (error) {
    await worker.stop();
    throw error;
  }
  return worker;
}

/**
 * A throwaway county PKI in `dir`, made by the county's own CA code (`npm run county-ca`): `ca`,
 * `server` (IP 127.0.0.1), one box certificate per name in `boxes` (CN = the name), and `stranger`
 * (CN site-a, from another CA). Resolves with each name's path without extension (`.crt`, `.key`).
 */
export async function makeTestPki(dir: string, boxes: string[]): Promise<Record<string, string>> {
  await initCa(dir, "county");
  await issueServer(dir, "county", ["127.0.0.1"]);
  const names: Record<string, string> = { ca: join(dir, "ca"), server: join(dir, "server") };
  for (const site of boxes) {
    await issueBox(dir, "county", site, join(dir, "boxes", site));
    names[site] = join(dir, "boxes", site, "box");
  }
  const other = join(dir, "other-ca");
  await initCa(other, "other");
  await issueBox(other, "other", "site-a", join(dir, "stranger"));
  names.stranger = join(dir, "stranger", "box");
  return names;
}
