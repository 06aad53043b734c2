/**
 * The two brokers of bench/broker.ts, each its own process on a loopback port (so its memory and CPU
 * are its own), and the box side of the load: N mqtt.js clients publishing 256 KiB QoS 1 chunks,
 * each with a window of PUBLISHes awaiting their PUBACK, timed per publish.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as delay } from "node:timers/promises";
import mqtt, { type MqttClient } from "mqtt";
import {
  generateMosquittoFiles,
  mosquittoConf,
  mosquittoPasswordHash,
} from "../../reading-centre/broker/mosquitto-config.ts";
import { encodeChunk, upTopic } from "../../uploader/protocol/index.ts";
import { freePort } from "./receivers.ts";

export const BENCH_COUNTY = "county";
/** The reading centre's internal login (reading-centre/app.ts); only it may subscribe to every site. */
export const INTERNAL_USERNAME = "dxgate-rc-internal";
/** The receiver's username in a generated Mosquitto password file. */
export const RECEIVER_USERNAME = "dxgate-rc-receiver";
export const ROOT = join(import.meta.dirname, "..", "..");

export type BrokerName = "aedes" | "mosquitto";

export interface BrokerProcess {
  name: BrokerName;
  pid: number;
  url: string;
  /** Credentials of the subscriber (the reading centre's receiver). */
  internal: { username: string; password: string };
  /** Box passwords derive from it (boxPassword). */
  boxSecret: string;
  stop(): Promise<void>;
}

/** Box `siteId`'s broker password in a run whose secret is `secret`. */
export function boxPassword(secret: string, siteId: string): string {
  return `${secret}-${siteId}`;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`broker exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (ok) return;
    await delay(50);
  }
  throw new Error(`nothing listens on ${port}`);
}

/** The embedded aedes broker of the reading centre (size guard + ACL), in a child Node process. */
export async function startAedes(dir: string): Promise<BrokerProcess> {
  const password = randomBytes(16).toString("hex");
  const boxSecret = randomBytes(16).toString("hex");
  const child = spawn(process.execPath, [join(ROOT, "bench", "lib", "aedes-child.ts")], {
    cwd: ROOT,
    env: { ...process.env, BENCH_INTERNAL_PASSWORD: password, BENCH_BOX_SECRET: boxSecret },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr?.pipe(createWriteStream(join(dir, "aedes.log")));
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, "exit").then(() => {
    throw new Error("aedes child exited before listening (see aedes.log)");
  });
  const [first] = (await Promise.race([once(lines, "line"), exited])) as [string];
  const { port } = JSON.parse(first) as { port: number };
  return {
    name: "aedes",
    pid: child.pid ?? 0,
    url: `mqtt://127.0.0.1:${port}`,
    internal: { username: INTERNAL_USERNAME, password },
    boxSecret,
    stop: () => stopChild(child),
  };
}

/**
 * Mosquitto 2 configured as `npm run mosquitto-config` configures a county's (no anonymous access,
 * password file and per-site pattern ACL for `boxes` sites and the receiver, the embedded broker's
 * packet ceiling, persistence off, 10000 queued messages per client), on a loopback listener, plus
 * `set_tcp_nodelay true` (the embedded broker sets TCP_NODELAY on every socket; without it a PUBACK
 * may wait for Nagle's algorithm).
 */
export async function startMosquitto(dir: string, boxes: number): Promise<BrokerProcess> {
  const port = await freePort();
  const password = randomBytes(16).toString("hex");
  const boxSecret = randomBytes(16).toString("hex");
  const registry = {
    version: 1,
    boxes: Object.fromEntries(
      Array.from({ length: boxes }, (_, i) => {
        const { siteId } = siteOf(i);
        return [siteId, { siteId, mosquittoPassword: mosquittoPasswordHash(boxPassword(boxSecret, siteId)) }];
      }),
    ),
  };
  const files = generateMosquittoFiles({
    countyId: BENCH_COUNTY,
    registry,
    receiver: { username: RECEIVER_USERNAME, passwordHash: mosquittoPasswordHash(password) },
  });
  const passwordFile = join(dir, "passwords");
  const aclFile = join(dir, "acl");
  await writeFile(passwordFile, files.passwords, { mode: 0o600 });
  await writeFile(aclFile, files.acl, { mode: 0o600 });
  const config = join(dir, "mosquitto.conf");
  // As root, mosquitto would switch to its own user, who cannot read our private temp files.
  const user = process.getuid?.() === 0 ? "user root\n" : "";
  await writeFile(
    config,
    `${user}set_tcp_nodelay true\n${mosquittoConf({ passwordFile, aclFile, listeners: [{ port, host: "127.0.0.1" }] })}`,
  );
  const child = spawn("mosquitto", ["-c", config], { stdio: ["ignore", "pipe", "pipe"] });
  const log = createWriteStream(join(dir, "mosquitto.log"));
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  try {
    await waitForPort(port, child);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return {
    name: "mosquitto",
    pid: child.pid ?? 0,
    url: `mqtt://127.0.0.1:${port}`,
    internal: { username: RECEIVER_USERNAME, password },
    boxSecret,
    stop: () => stopChild(child),
  };
}

export function siteOf(index: number): { countyId: string; siteId: string } {
  return { countyId: BENCH_COUNTY, siteId: `site-${String(index).padStart(3, "0")}` };
}

/** A box's connection, as the uploader's session makes it (MQTT 3.1.1, persistent session). */
export async function connectBox(broker: BrokerProcess, index: number): Promise<MqttClient> {
  const site = siteOf(index);
  return mqtt.connectAsync(broker.url, {
    username: site.siteId,
    password: boxPassword(broker.boxSecret, site.siteId),
    protocolVersion: 4,
    clean: false,
    clientId: `dxgate-box-${site.countyId}-${site.siteId}`,
    reconnectPeriod: 0,
    keepalive: 30,
  });
}

/** A real chunk message: the DXC1 header (transfer id, instance, offset, SHA-256), then the data. */
export function chunkPayload(dataBytes: number): Buffer {
  return encodeChunk(
    {
      transferId: "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
      sopInstanceUid: "1.2.826.0.1.3680043.10.1.1.1",
      offset: 0,
    },
    randomBytes(dataBytes),
  );
}

/**
 * Publish `count` QoS 1 messages on the box's chunk topic with at most `window` awaiting PUBACK;
 * each publish→PUBACK latency (ms) is pushed to `latencies`.
 */
export async function publishLoad(
  client: MqttClient,
  index: number,
  payload: Buffer,
  count: number,
  window: number,
  latencies: number[],
): Promise<void> {
  const topic = upTopic(siteOf(index), "chunk");
  let started = 0;
  const lane = async () => {
    while (started < count) {
      started += 1;
      const t0 = performance.now();
      await client.publishAsync(topic, payload, { qos: 1 });
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
}

/** Wall-clock milliseconds comparable between processes of this machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}
