/**
 * Test support (not a test file): a reading centre started in-process on ephemeral ports with a
 * fresh data directory, a log capture, and a small HTTP client for its API.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../common/logger.ts";
import { createReadingCentre, type ReadingCentre } from "../app.ts";
import { BoxRegistry } from "../boxes/registry.ts";
import { loadReadingCentreConfig } from "../config.ts";

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export class LogCapture {
  readonly lines: LogLine[] = [];
  readonly log: Logger;

  constructor() {
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        for (const line of chunk.toString("utf8").split("\n")) {
          if (line.trim()) this.lines.push(JSON.parse(line) as LogLine);
        }
        callback();
      },
    });
    this.log = createLogger({ name: "test", level: "debug", destination: sink });
  }

  find(msg: string, fields: Record<string, unknown> = {}): LogLine[] {
    return this.lines.filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v));
  }
}

export async function makeDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "dxgate-rc-test-"));
}

/** A box registered with the county (as `add-box` does), with the secrets the box itself keeps. */
export interface TestBoxCredentials {
  siteId: string;
  /** The broker username: the site id. */
  username: string;
  password: string;
  /** The client id the broker requires of this box. */
  clientId: string;
  /** Ed25519 private key: signs manifests and commits. */
  signingKey: KeyObject;
  verifyKey: KeyObject;
}

/**
 * Register (or rotate) a box in the reading centre's data directory, as `add-box` does: through the
 * registry file, which the running service re-reads on its own.
 */
export async function addBox(
  dataDir: string,
  siteId: string,
  countyId = "county",
): Promise<TestBoxCredentials> {
  const created = await BoxRegistry.open(dataDir).add(siteId);
  return {
    siteId,
    username: siteId,
    password: created.password,
    clientId: `dxgate-box-${countyId}-${siteId}`,
    signingKey: createPrivateKey(created.signingKeyPem),
    verifyKey: created.verifyKey,
  };
}

/** Reading centres started by `startRc`, by their plain MQTT port: where a FakeBox's site gets registered. */
const byMqttPort = new Map<number, { dataDir: string; countyId: string }>();
const registered = new Map<string, Promise<TestBoxCredentials>>();

/**
 * The credentials of `siteId` at the reading centre listening on `mqttPort` (started by `startRc`):
 * registered on first use, as an admin's add-box would, then the same ones for every later
 * connection and restart on that data directory. Undefined for any other broker (e.g. a test's own
 * Mosquitto).
 */
export function boxCredentialsFor(mqttPort: number, siteId: string): Promise<TestBoxCredentials> | undefined {
  const rc = byMqttPort.get(mqttPort);
  if (!rc) return undefined;
  const key = `${rc.dataDir}\0${siteId}`;
  let credentials = registered.get(key);
  if (!credentials) {
    credentials = addBox(rc.dataDir, siteId, rc.countyId);
    registered.set(key, credentials);
  }
  return credentials;
}

export interface RunningRc {
  app: ReadingCentre;
  dataDir: string;
  httpPort: number;
  mqttPort: number;
  /** The TLS listener's port, when `mqtt.tls` was configured. */
  mqttTlsPort: number | undefined;
  logs: LogCapture;
  /** Register a box for `siteId` (or rotate its credentials); the running service admits it at once. */
  addBox(siteId: string): Promise<TestBoxCredentials>;
  api(method: string, path: string, options?: { token?: string; body?: unknown }): Promise<ApiResponse>;
  login(username?: string, password?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  json: unknown;
  bytes: Buffer;
}

export async function startRc(
  options: { dataDir?: string; overrides?: Record<string, unknown> } = {},
): Promise<RunningRc> {
  const dataDir = options.dataDir ?? (await makeDataDir());
  const config = loadReadingCentreConfig({
    env: {},
    overrides: {
      dataDir,
      "http.port": 0,
      "mqtt.port": 0,
      demo: true,
      reportRetryMs: 200,
      ...options.overrides,
    },
  });
  const logs = new LogCapture();
  const app = createReadingCentre(config, { log: logs.log });
  const { httpPort, mqttPort, mqttTlsPort } = await app.start();
  byMqttPort.set(mqttPort, { dataDir, countyId: config.countyId });

  async function api(method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
      method,
      headers,
      ...(opts.body === undefined
        ? {}
        : { body: typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body) }),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    const isJson = response.headers.get("content-type")?.startsWith("application/json") ?? false;
    return {
      status: response.status,
      headers: response.headers,
      bytes,
      json: isJson ? JSON.parse(bytes.toString()) : null,
    };
  }

  return {
    app,
    dataDir,
    httpPort,
    mqttPort,
    mqttTlsPort,
    logs,
    async addBox(siteId: string) {
      const credentials = addBox(dataDir, siteId, config.countyId);
      registered.set(`${dataDir}\0${siteId}`, credentials);
      return credentials;
    },
    api,
    async login(username = "demo", password = "demo") {
      const response = await api("POST", "/api/login", { body: { username, password } });
      if (response.status !== 200) throw new Error(`login failed: ${response.status}`);
      return (response.json as { token: string }).token;
    },
    async stop() {
      byMqttPort.delete(mqttPort);
      await app.stop();
    },
  };
}

/** Stop the reading centre and remove its data directory. */
export async function disposeRc(rc: RunningRc): Promise<void> {
  await rc.stop();
  for (const key of registered.keys()) if (key.startsWith(`${rc.dataDir}\0`)) registered.delete(key);
  await rm(rc.dataDir, { recursive: true, force: true });
}

export async function waitUntil(check: () => boolean, timeoutMs = 3000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
