/**
 * The whole chain, as processes: reading centre (embedded broker) and gateway started as real child
 * processes, a study sent with DCMTK storescu, found in the county's worklist, fetched back, reported,
 * and the report seen at the box. Then the crash case: kill -9 after C-STORE success, before upload.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { writeStudy } from "./fixtures/make-dicom.ts";
import { datasetOf } from "./support/dicom-bytes.ts";
import { eventually, type RunningProcess, startProcess } from "./support/processes.ts";

const run = promisify(execFile);
const PATIENT_NAME = "Chainfixture^Wenjing";

interface WorklistEntry {
  studyInstanceUid: string;
  siteId: string;
  modality: string;
  priority: string;
  state: string;
  receivedAt: string;
  instanceCount?: number;
}

class ReadingCentreClient {
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

async function startReadingCentre(dataDir: string): Promise<RunningProcess> {
  return startProcess(
    "reading-centre/main.ts",
    {
      DXGATE_RC_DATA_DIR: dataDir,
      DXGATE_RC_HTTP_PORT: "0",
      DXGATE_RC_MQTT_PORT: "0",
      DXGATE_RC_HTTP_HOST: "127.0.0.1",
      DXGATE_RC_MQTT_HOST: "127.0.0.1",
      DXGATE_RC_DEMO: "1",
      DXGATE_RC_REPORT_RETRY_MS: "1000",
    },
    ["http", "mqtt"],
  );
}

async function startGateway(
  dataDir: string,
  mqttPort: number,
  quietPeriodMs: number,
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
    },
    ["http", "dicom"],
  );
}

async function storescu(port: number, files: string[]): Promise<void> {
  await run("storescu", ["-aec", "DXGATE", "-aet", "TESTUS", "127.0.0.1", String(port), ...files], {
    timeout: 30_000,
  });
}

describe("the chain end to end", () => {
  let work: string;
  let rc: RunningProcess;
  let gateway: RunningProcess;
  let county: ReadingCentreClient;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "dxgate-chain-"));
    rc = await startReadingCentre(join(work, "rc"));
    gateway = await startGateway(join(work, "gw"), rc.port("mqtt"), 300);
    county = new ReadingCentreClient(rc.port("http"));
    await county.login();
  });

  after(async () => {
    await gateway?.stop();
    await rc?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test("a study sent with storescu reaches the worklist byte-identical, and its report comes back", async () => {
    const study = await writeStudy(join(work, "in"), {
      instances: 3,
      patientName: PATIENT_NAME,
      patientId: "10023",
    });
    // storescu re-encodes what it sends (sequences with explicit lengths), so the reference for
    // "byte-identical" is the file as DCMTK itself writes it: normalise each fixture with dcmconv.
    for (const file of study.files) {
      await run("dcmconv", [file.path, file.path], { timeout: 10_000 });
      file.bytes = await readFile(file.path);
    }
    await storescu(
      gateway.port("dicom"),
      study.files.map((f) => f.path),
    );

    const entry = await eventually(
      async () => {
        const list = await county.json<WorklistEntry[]>("/api/worklist");
        return list.find((s) => s.studyInstanceUid === study.studyInstanceUid);
      },
      20_000,
      "the study in the worklist",
    );
    assert.equal(entry.siteId, "site-chain");
    assert.equal(entry.modality, "US");
    assert.ok(entry.priority && entry.state && entry.receivedAt);

    const detail = await county.json<{
      instances: Array<{ sopInstanceUid: string; sopClassUid: string; size: number }>;
    }>(`/api/studies/${study.studyInstanceUid}`);
    assert.deepEqual(
      detail.instances.map((i) => i.sopInstanceUid).sort(),
      study.files.map((f) => f.sopInstanceUid).sort(),
    );

    for (const file of study.files) {
      const res = await county.get(`/api/instances/${file.sopInstanceUid}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^application\/dicom/);
      const fetched = Buffer.from(await res.arrayBuffer());
      // The dataset arrives exactly as the modality sent it; the whole file is the gateway's spool file.
      assert.ok(datasetOf(fetched).equals(datasetOf(file.bytes)), "dataset bytes must be identical");
      const spooled = await readFile(
        join(work, "gw", "spool", "studies", study.studyInstanceUid, `${file.sopInstanceUid}.dcm`),
      );
      assert.ok(fetched.equals(spooled), "the county's file must be byte-identical to the box's");
      assert.equal(
        detail.instances.find((i) => i.sopInstanceUid === file.sopInstanceUid)?.size,
        spooled.length,
      );
    }

    const posted = await county.post(`/api/studies/${study.studyInstanceUid}/report`, {
      findings: "肝胆胰脾未见明显异常",
      impression: "Normal abdominal ultrasound",
      critical: false,
    });
    assert.equal(posted.status, 200);

    const gatewayApi = `http://127.0.0.1:${gateway.port("http")}`;
    const atBox = await eventually(
      async () => {
        const list = (await (await fetch(`${gatewayApi}/api/studies`)).json()) as Array<{
          studyInstanceUid: string;
          state: string;
          report: { impression: string; findings: string } | null;
        }>;
        const mine = list.find((s) => s.studyInstanceUid === study.studyInstanceUid);
        return mine?.report ? mine : undefined;
      },
      20_000,
      "the report at the gateway",
    );
    assert.equal(atBox.state, "reported");
    assert.equal(atBox.report?.impression, "Normal abdominal ultrasound");
    assert.equal(atBox.report?.findings, "肝胆胰脾未见明显异常");
  });

  test("no log line of either process carries the patient's name", () => {
    const everything = [...rc.output, ...gateway.output].join("\n");
    assert.ok(everything.length > 0);
    assert.ok(!everything.includes("Chainfixture"), "patient name leaked into the logs");
    assert.ok(!everything.includes("10023"), "patient id leaked into the logs");
  });
});

describe("crash after C-STORE success, before upload", () => {
  test("kill -9 the gateway: after restart the study arrives exactly once", async (t) => {
    const work = await mkdtemp(join(tmpdir(), "dxgate-crash-"));
    const rc = await startReadingCentre(join(work, "rc"));
    t.after(async () => {
      await rc.stop();
      await rm(work, { recursive: true, force: true });
    });
    // A long quiet period: the study is acknowledged to the modality but not yet uploaded.
    const first = await startGateway(join(work, "gw"), rc.port("mqtt"), 600_000);
    const study = await writeStudy(join(work, "in"), { instances: 4 });
    await storescu(
      first.port("dicom"),
      study.files.map((f) => f.path),
    );
    await first.kill();

    const county = new ReadingCentreClient(rc.port("http"));
    await county.login();
    assert.equal(
      (await county.json<WorklistEntry[]>("/api/worklist")).length,
      0,
      "nothing may have been uploaded before the crash",
    );

    const second = await startGateway(join(work, "gw"), rc.port("mqtt"), 200);
    t.after(() => second.stop());
    const entry = await eventually(
      async () =>
        (await county.json<WorklistEntry[]>("/api/worklist")).find(
          (s) => s.studyInstanceUid === study.studyInstanceUid,
        ),
      20_000,
      "the study after restart",
    );
    const detail = await county.json<{ instances: Array<{ sopInstanceUid: string }> }>(
      `/api/studies/${entry.studyInstanceUid}`,
    );
    assert.equal(detail.instances.length, 4);
    // Give a duplicate upload the chance to show up, then check there is still exactly one.
    await eventually(
      async () => {
        const res = await fetch(
          `http://127.0.0.1:${second.port("http")}/api/studies/${study.studyInstanceUid}`,
        );
        const s = (await res.json()) as { state: string };
        return s.state === "delivered" ? s : undefined;
      },
      20_000,
      "delivered at the box",
    );
    const list = await county.json<WorklistEntry[]>("/api/worklist");
    assert.equal(list.filter((s) => s.studyInstanceUid === study.studyInstanceUid).length, 1);
    const again = await county.json<{ instances: Array<{ sopInstanceUid: string }> }>(
      `/api/studies/${study.studyInstanceUid}`,
    );
    assert.deepEqual(
      again.instances.map((i) => i.sopInstanceUid).sort(),
      study.files.map((f) => f.sopInstanceUid).sort(),
    );
  });
});
