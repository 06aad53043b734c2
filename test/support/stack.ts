/**
 * A dxgate stack for integration tests: the reading centre and a gateway as real child processes,
 * a small client for the reading centre's API, and DCMTK storescu.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { GATEWAY_NODE_FLAGS } from "../../gateway/node-flags.ts";
import { ROOT, type RunningProcess, startProcess } from "./processes.ts";

export const run = promisify(execFile);

export interface WorklistEntry {
  studyInstanceUid: string;
  siteId: string;
  modality: string;
  priority: string;
  state: string;
  receivedAt: string;
  instanceCount?: number;
}

export class ReadingCentreClient {
  #token = "";
  readonly base: string;
  constructor(port: number) {
    this.base = `http://127.0.0.1:${port}`;
  }
  async login(username = "demo", password = "demo"): Promise<void> {
    const res = await fetch(`${this.base}/api/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    assert.equal(res.status, 200, "demo login must succeed");
    this.#token = ((await res.json()) as { token: string }).token;
  }
  async get(path: string): Promise<Response> {
    return fetch(`${this.base}${path}`, { headers: { authorization: `Bearer ${this.#token}` } });
  }
  async json<T>(path: string): Promise<T> {
    const res = await this.get(path);
    assert.equal(res.status, 200, `GET ${path}`);
    return (await res.json()) as T;
  }
  async post(path: string, body: unknown): Promise<Response> {
    return fetch(`${this.base}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.#token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  }
}

/** The reading centre in demo mode; ports 0 unless given (a restart must come back on the same ones). */
export async function startReadingCentre(
  dataDir: string,
  ports: { http?: number; mqtt?: number } = {},
): Promise<RunningProcess> {
  return startProcess(
    "reading-centre/main.ts",
    {
      DXGATE_RC_DATA_DIR: dataDir,
      DXGATE_RC_HTTP_PORT: String(ports.http ?? 0),
      DXGATE_RC_MQTT_PORT: String(ports.mqtt ?? 0),
      DXGATE_RC_HTTP_HOST: "127.0.0.1",
      DXGATE_RC_MQTT_HOST: "127.0.0.1",
      DXGATE_RC_DEMO: "1",
      DXGATE_RC_REPORT_RETRY_MS: "1000",
    },
    ["http", "mqtt"],
  );
}

/**
 * Provision a box as a county admin does: the real `reading-centre/main.ts add-box SITE` on the
 * reading centre's data directory (the running service admits it without a restart). Resolves with
 * the environment from the box.env it wrote — site, credentials in DXGATE_BROKER_URL (pointed at
 * `127.0.0.1:mqttPort`, e.g. a link proxy), TLS files when a county CA exists, signing key — to pass
 * to `startGateway`.
 */
export async function provisionBox(
  rcDataDir: string,
  mqttPort: number,
  siteId = "site-chain",
): Promise<Record<string, string>> {
  const { stdout } = await run(
    process.execPath,
    [
      join(ROOT, "reading-centre", "main.ts"),
      "add-box",
      siteId,
      "--out",
      join(rcDataDir, "box-credentials", siteId),
      "--broker-url",
      `mqtt://127.0.0.1:${mqttPort}`,
    ],
    { env: { ...process.env, DXGATE_RC_DATA_DIR: rcDataDir, DXGATE_LOG_LEVEL: "warn" }, timeout: 30_000 },
  );
  const printed = JSON.parse(stdout.trim().split("\n").at(-1)!) as { env: string };
  const env: Record<string, string> = {};
  for (const line of (await readFile(printed.env, "utf8")).split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0 && !line.startsWith("#")) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/**
 * A gateway for site `site-chain`; `extraEnv` adds or overrides variables — the box's provisioned
 * environment (`provisionBox`) among them: the county refuses anonymous boxes.
 */
export async function startGateway(
  dataDir: string,
  mqttPort: number,
  quietPeriodMs: number,
  extraEnv: Record<string, string> = {},
): Promise<RunningProcess> {
  return startProcess(
    "gateway/main.ts",
    {
      DXGATE_SITE_ID: "site-chain",
      DXGATE_DATA_DIR: dataDir,
      DXGATE_DICOM_PORT: "0",
      DXGATE_DICOM_HOST: "127.0.0.1",
      DXGATE_HTTP_PORT: "0",
      DXGATE_HTTP_HOST: "127.0.0.1",
      DXGATE_BROKER_URL: `mqtt://127.0.0.1:${mqttPort}`,
      DXGATE_QUIET_PERIOD_MS: String(quietPeriodMs),
      DXGATE_UPLOAD_RETRY_BASE_MS: "200",
      ...extraEnv,
    },
    ["http", "dicom"],
    20_000,
    GATEWAY_NODE_FLAGS,
  );
}

/** Send files with DCMTK storescu to the gateway; rejects on any failed C-STORE. */
export async function storescu(port: number, files: string[]): Promise<void> {
  await run("storescu", ["-aec", "DXGATE", "-aet", "TESTUS", "127.0.0.1", String(port), ...files], {
    timeout: 30_000,
  });
}
