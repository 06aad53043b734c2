/**
 * The three receivers under test, each started fresh per run in its own temporary directory:
 * our gateway (the real process, `gateway/main.ts`, uplink pointed at nothing so it only ingests),
 * DCMTK storescp and Orthanc. Each gets TCP_NODELAY=1 (DCMTK and Orthanc read it from the
 * environment; Debian's builds leave Nagle on otherwise; the gateway sets it on every socket itself).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import { GATEWAY_NODE_FLAGS } from "../../gateway/node-flags.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");

export type ReceiverName = "dxgate" | "storescp" | "storescp-fsync" | "orthanc";

export interface Receiver {
  name: ReceiverName;
  aeTitle: string;
  port: number;
  pid: number;
  /** How many instances it holds on disk now. */
  countStored(): Promise<number>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

/** Files under `dir` whose name passes `keep`, recursively. */
async function countFiles(dir: string, keep: (name: string) => boolean): Promise<number> {
  let count = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && keep(entry.name)) count += 1;
  }
  return count;
}

async function waitForEcho(aeTitle: string, port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`receiver exited with ${child.exitCode}`);
    try {
      await run("echoscu", ["-aec", aeTitle, "127.0.0.1", String(port)], { timeout: 5000 });
      return;
    } catch {
      await delay(100);
    }
  }
  throw new Error(`no C-ECHO answer on ${port}`);
}

function startChild(command: string, args: string[], env: NodeJS.ProcessEnv, logPath: string): ChildProcess {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: "pipe" });
  const log = createWriteStream(logPath);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  await exited;
  clearTimeout(timer);
}

export async function startReceiver(name: ReceiverName, dir: string): Promise<Receiver> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const logPath = join(dir, `${name}.log`);
  let child: ChildProcess;
  let aeTitle: string;
  let countStored: () => Promise<number>;
  if (name === "dxgate") {
    aeTitle = "DXGATE";
    const dataDir = join(dir, "data");
    child = startChild(
      process.execPath,
      [...GATEWAY_NODE_FLAGS, join(ROOT, "gateway", "main.ts")],
      {
        DXGATE_SITE_ID: "bench",
        DXGATE_DATA_DIR: dataDir,
        DXGATE_DICOM_HOST: "127.0.0.1",
        DXGATE_DICOM_PORT: String(port),
        DXGATE_HTTP_HOST: "127.0.0.1",
        DXGATE_HTTP_PORT: String(await freePort()),
        // Nothing listens on port 1: the uploader retries in the background, the gateway only ingests.
        DXGATE_BROKER_URL: "mqtt://127.0.0.1:1",
        DXGATE_QUIET_PERIOD_MS: "3600000",
      },
      logPath,
    );
    countStored = () => countFiles(join(dataDir, "spool", "studies"), (n) => n.endsWith(".dcm"));
  } else if (name === "storescp" || name === "storescp-fsync") {
    aeTitle = "STORESCP";
    const out = join(dir, "out");
    await mkdir(out);
    // storescp has no fsync option. "storescp-fsync" is the nearest DCMTK gets to our guarantee:
    // after each file is written, `sync FILE` (coreutils: fsync of that file) runs, and --exec-sync
    // makes storescp wait for it before it answers the C-STORE. (It adds a fork+exec per instance,
    // and does not fsync the directory entry, which we do.)
    const fsync = name === "storescp-fsync" ? ["--exec-on-reception", "sync #p/#f", "--exec-sync"] : [];
    child = startChild("storescp", [...fsync, "-od", out, String(port)], { TCP_NODELAY: "1" }, logPath);
    countStored = () => countFiles(out, () => true);
  } else {
    aeTitle = "ORTHANC";
    const storage = join(dir, "storage");
    const index = join(dir, "index");
    const config = join(dir, "orthanc.json");
    await writeFile(
      config,
      JSON.stringify({
        Name: "bench",
        DicomAet: "ORTHANC",
        DicomPort: port,
        DicomCheckCalledAet: false,
        HttpPort: await freePort(),
        RemoteAccessAllowed: false,
        StorageDirectory: storage,
        IndexDirectory: index,
        // fsync every stored file, as dxgate does (Orthanc's default is false).
        SyncStorageArea: true,
        StorageCompression: false,
        Plugins: [],
      }),
    );
    child = startChild("Orthanc", [config], { TCP_NODELAY: "1" }, logPath);
    // Orthanc names stored files by UUID, no extension; its SQLite index lives in IndexDirectory.
    countStored = () => countFiles(storage, (n) => !n.includes("."));
  }
  const started = child;
  await waitForEcho(aeTitle, port, started);
  return {
    name,
    aeTitle,
    port,
    pid: started.pid ?? 0,
    countStored,
    stop: () => stopChild(started),
  };
}
