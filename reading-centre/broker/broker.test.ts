/**
 * The embedded broker's security, with real third-party peers where it matters (mosquitto_pub and
 * mosquitto_sub): boxes provisioned as add-box does, a county CA and a TLS listener; one box tries
 * to act as another and fails.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { downTopic, encodeJsonMessage, upTopic } from "../../uploader/protocol/index.ts";
import { initCa, issueBox, issueServer } from "../boxes/county-ca.ts";
import { type ProvisionResult, parseEnvFile, provisionBox } from "../boxes/provision.ts";
import { loadReadingCentreConfig } from "../config.ts";
import { disposeRc, makeDataDir, type RunningRc, startRc, waitUntil } from "../testing/harness.ts";

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const COUNTY = "county";

let rc: RunningRc;
let pki: string;
/** Box A and box B, provisioned as add-box does (with client certificates: the CA exists). */
const boxes: Record<"a" | "b", { result: ProvisionResult; env: Record<string, string>; password: string }> =
  {} as never;

before(async () => {
  const dataDir = await makeDataDir();
  pki = join(dataDir, "pki");
  await initCa(pki, COUNTY);
  const server = await issueServer(pki, COUNTY, ["localhost", "127.0.0.1"]);
  rc = await startRc({
    dataDir,
    overrides: {
      "mqtt.tls": {
        host: "127.0.0.1",
        port: 0,
        cert: server.serverCert,
        key: server.serverKey,
        ca: server.caCert,
      },
    },
  });
  const config = loadReadingCentreConfig({ env: {}, overrides: { dataDir } });
  for (const [name, siteId] of [
    ["a", "site-a"],
    ["b", "site-b"],
  ] as const) {
    const result = await provisionBox(config, siteId, { brokerUrl: `mqtt://127.0.0.1:${rc.mqttPort}` });
    const env = parseEnvFile(await readFile(result.env, "utf8"));
    boxes[name] = { result, env, password: new URL(env.DXGATE_BROKER_URL!).password };
  }
});
after(async () => disposeRc(rc));

function plain(options: IClientOptions): Promise<MqttClient> {
  return mqtt.connectAsync(
    `mqtt://127.0.0.1:${rc.mqttPort}`,
    { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options },
    false,
  );
}

async function tlsFiles(box: "a" | "b") {
  const { ca, cert, key } = boxes[box].result;
  return { ca: await readFile(ca!), cert: await readFile(cert!), key: await readFile(key!) };
}

function secure(options: IClientOptions): Promise<MqttClient> {
  return mqtt.connectAsync(
    `mqtts://127.0.0.1:${rc.mqttTlsPort}`,
    { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, rejectUnauthorized: true, ...options },
    false,
  );
}

/** Run a mosquitto client; resolves with its exit code and output instead of throwing. */
async function mosquitto(command: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(command, args, { timeout: 15_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

function statusPayload(): string {
  return encodeJsonMessage({
    v: 1,
    type: "status",
    sentAt: new Date().toISOString(),
    online: true,
    queueDepth: 0,
  }).toString();
}

async function boxesSeen(): Promise<string[]> {
  const token = await rc.login();
  const response = await rc.api("GET", "/api/boxes", { token });
  return (response.json as Array<{ siteId: string }>).map((b) => b.siteId);
}

test("anonymous clients get nothing: CONNACK 5, for mosquitto_pub and mqtt.js alike", async () => {
  const pub = await mosquitto("mosquitto_pub", [
    ...["-h", "127.0.0.1", "-p", String(rc.mqttPort), "-V", "mqttv311", "-q", "1"],
    ...["-t", upTopic({ countyId: COUNTY, siteId: "site-a" }, "status"), "-m", statusPayload()],
  ]);
  assert.notEqual(pub.code, 0);
  assert.match(pub.output, /not authori[sz]ed/i);
  await assert.rejects(plain({ clientId: "dxgate-box-county-site-a" }), { code: 5 });
  assert.ok(rc.logs.find("mqtt login refused", { code: "ANONYMOUS" }).length >= 2);
});

test("a wrong password is refused (CONNACK 4), and so is a box using another box's client id (2)", async () => {
  const a = boxes.a;
  await assert.rejects(
    plain({ clientId: a.result.clientId, username: "site-a", password: `${a.password}x` }),
    { code: 4 },
  );
  await assert.rejects(
    plain({ clientId: a.result.clientId, username: "site-a", password: boxes.b.password }),
    { code: 4 },
  );
  const pub = await mosquitto("mosquitto_pub", [
    ...["-h", "127.0.0.1", "-p", String(rc.mqttPort), "-V", "mqttv311", "-i", a.result.clientId],
    ...[
      "-u",
      "site-a",
      "-P",
      "not-the-password",
      "-t",
      upTopic({ countyId: COUNTY, siteId: "site-a" }, "status"),
    ],
    ...["-m", statusPayload()],
  ]);
  assert.notEqual(pub.code, 0);
  assert.match(pub.output, /bad user name or password|not authori[sz]ed/i);
  // A's own credentials, B's client id: it would take over B's session.
  await assert.rejects(
    plain({ clientId: boxes.b.result.clientId, username: "site-a", password: a.password }),
    { code: 2 },
  );
  assert.ok(rc.logs.find("mqtt login refused", { code: "AUTH_FAILED", siteId: "site-a" }).length >= 3);
  assert.equal(
    rc.logs
      .find(/* never the password */ "mqtt login refused")
      .some((l) => JSON.stringify(l).includes(a.password)),
    false,
  );
  assert.ok(rc.logs.lines.some((l) => l.code === "CLIENT_ID_REFUSED" && l.siteId === "site-a"));
});

test("box A cannot publish on B's up topics nor subscribe to B's down topics (mosquitto clients)", async () => {
  const a = boxes.a;
  const login = ["-h", "127.0.0.1", "-p", String(rc.mqttPort), "-V", "mqttv311", "-i", a.result.clientId];
  const creds = ["-u", "site-a", "-P", a.password];

  // Publish as B: the broker closes the connection, the receiver never sees it.
  const forged = await mosquitto("mosquitto_pub", [
    ...login,
    ...creds,
    ...["-q", "1", "-t", upTopic({ countyId: COUNTY, siteId: "site-b" }, "status"), "-m", statusPayload()],
  ]);
  assert.notEqual(forged.code, 0, forged.output);
  await waitUntil(
    () =>
      rc.logs.find("mqtt publish as another site refused", { code: "ACL_DENIED", siteId: "site-a" }).length >
      0,
    5000,
    "ACL_DENIED for the publish",
  );
  const denied = rc.logs.find("mqtt publish as another site refused")[0]!;
  assert.equal(denied.topicSiteId, "site-b");

  // The same client on its own topic is accepted and reaches the receiver.
  const own = await mosquitto("mosquitto_pub", [
    ...login,
    ...creds,
    ...["-q", "1", "-t", upTopic({ countyId: COUNTY, siteId: "site-a" }, "status"), "-m", statusPayload()],
  ]);
  assert.equal(own.code, 0, own.output);
  await waitUntil(
    () => rc.logs.find("message handled", { siteId: "site-a", kind: "status" }).length > 0,
    5000,
  );
  assert.equal(rc.logs.find("message handled", { siteId: "site-b" }).length, 0);
  const seen = await boxesSeen();
  assert.ok(seen.includes("site-a"));
  assert.equal(seen.includes("site-b"), false);

  // Subscribe to B's down topics: SUBACK 0x80.
  const sub = await mosquitto("mosquitto_sub", [
    ...login,
    ...creds,
    ...["-q", "1", "-t", downTopic({ countyId: COUNTY, siteId: "site-b" }, "report"), "-W", "3"],
  ]);
  // mosquitto_sub says so and stops waiting (its exit status is 0 in 2.0.11).
  assert.match(sub.output, /All subscription requests were denied/i, sub.output);
  await waitUntil(
    () =>
      rc.logs
        .find("mqtt subscription outside the box's down topics refused", {
          code: "ACL_DENIED",
          siteId: "site-a",
        })
        .some((l) => String(l.filter).includes("/site-b/")),
    5000,
    "ACL_DENIED for the subscription",
  );

  // And with mqtt.js, the SUBACK code itself.
  const client = await plain({ clientId: a.result.clientId, username: "site-a", password: a.password });
  try {
    const refused = await client
      .subscribeAsync(downTopic({ countyId: COUNTY, siteId: "site-b" }, "commit-ack"), { qos: 1 })
      .then(
        () => undefined,
        (e: unknown) => e as { packet?: { granted?: number[] } },
      );
    assert.deepEqual(refused?.packet?.granted, [128]);
  } finally {
    await client.endAsync(true);
  }
});

test("TLS: a box with its county certificate is admitted as its CN; its certificate cannot log in as another", async () => {
  const files = await tlsFiles("a");
  const client = await secure({ ...files, clientId: boxes.a.result.clientId });
  try {
    await client.publishAsync(upTopic({ countyId: COUNTY, siteId: "site-a" }, "status"), statusPayload(), {
      qos: 1,
    });
  } finally {
    await client.endAsync(true);
  }
  assert.ok(rc.logs.find("mqtt box logged in", { siteId: "site-a" }).length > 0);
  // A's certificate with B's client id, or with B's username and password: refused.
  await assert.rejects(secure({ ...files, clientId: boxes.b.result.clientId }), { code: 2 });
  await assert.rejects(
    secure({ ...files, clientId: boxes.b.result.clientId, username: "site-b", password: boxes.b.password }),
    { code: 4 },
  );
  // mosquitto_pub with the files add-box wrote.
  const { ca, cert, key } = boxes.b.result;
  const pub = await mosquitto("mosquitto_pub", [
    ...["-h", "localhost", "-p", String(rc.mqttTlsPort), "-V", "mqttv311", "-i", boxes.b.result.clientId],
    ...["--cafile", ca!, "--cert", cert!, "--key", key!, "-q", "1"],
    ...["-t", upTopic({ countyId: COUNTY, siteId: "site-b" }, "status"), "-m", statusPayload()],
  ]);
  assert.equal(pub.code, 0, pub.output);
  // A password box uses the TLS listener too (certificates are optional).
  const passwordOnly = await secure({
    ca: files.ca,
    clientId: boxes.a.result.clientId,
    username: "site-a",
    password: boxes.a.password,
  });
  await passwordOnly.endAsync(true);
});

test("TLS: a client that does not trust the county CA cannot connect; a certificate from another CA is refused", async () => {
  // No county CA: the broker's certificate does not verify against the system roots.
  await assert.rejects(
    secure({ clientId: boxes.a.result.clientId, username: "site-a", password: boxes.a.password }),
  );
  const files = await tlsFiles("a");
  // Trusting the CA but expecting another name: the server name is checked.
  await assert.rejects(
    secure({ ...files, clientId: boxes.a.result.clientId, servername: "county.example" }),
    /county\.example|altnames|Hostname/i,
  );
  const pub = await mosquitto("mosquitto_pub", [
    ...["-h", "127.0.0.1", "-p", String(rc.mqttTlsPort), "-V", "mqttv311", "-i", boxes.a.result.clientId],
    ...["--capath", "/etc/ssl/certs", "-u", "site-a", "-P", boxes.a.password, "-q", "1"],
    ...["-t", upTopic({ countyId: COUNTY, siteId: "site-a" }, "status"), "-m", statusPayload()],
  ]);
  assert.notEqual(pub.code, 0);

  // A certificate for site-a from a CA that is not the county's.
  const rogue = join(rc.dataDir, "rogue-pki");
  await initCa(rogue, COUNTY);
  const forged = await issueBox(rogue, COUNTY, "site-a", join(rogue, "a"));
  await assert.rejects(
    secure({
      ca: files.ca,
      cert: await readFile(forged.cert),
      key: await readFile(forged.key),
      clientId: boxes.a.result.clientId,
    }),
  );
  await waitUntil(() => rc.logs.lines.some((l) => l.code === "TLS_CLIENT_CERT_REFUSED"), 5000);
});

test("add-box (the CLI) writes 0600 files and the running county accepts the new box at once; a rotation retires the old password", async () => {
  const out = join(rc.dataDir, "creds-new");
  const add = async () => {
    const { stdout } = await run(
      process.execPath,
      [MAIN, "add-box", "site-new", "--out", out, "--broker-url", `mqtt://127.0.0.1:${rc.mqttPort}`],
      { env: { ...process.env, DXGATE_RC_DATA_DIR: rc.dataDir, DXGATE_LOG_LEVEL: "warn" } },
    );
    const lines = stdout.trim().split("\n");
    assert.equal(lines.length, 1, stdout);
    return JSON.parse(lines[0]!) as ProvisionResult;
  };
  const result = await add();
  assert.equal(result.dir, out);
  assert.equal((await stat(out)).mode & 0o777, 0o700);
  for (const file of ["box.env", "signing-key.pem", "ca.crt", "box.crt", "box.key"]) {
    assert.equal((await stat(join(out, file))).mode & 0o777, 0o600, file);
  }
  const env = parseEnvFile(await readFile(result.env, "utf8"));
  assert.equal(env.DXGATE_SITE_ID, "site-new");
  assert.equal(env.DXGATE_BOX_SIGNING_KEY, join(out, "signing-key.pem"));
  assert.equal(env.DXGATE_BROKER_CERT, join(out, "box.crt"));
  const url = new URL(env.DXGATE_BROKER_URL!);
  assert.equal(url.username, "site-new");
  assert.equal(JSON.stringify(result).includes(url.password), false, "the password is never printed");

  // The credentials from box.env, as the gateway would use them (mqtt.js takes user:password@ from the URL).
  const client = await mqtt.connectAsync(
    env.DXGATE_BROKER_URL!,
    { protocolVersion: 4, clientId: result.clientId, reconnectPeriod: 0 },
    false,
  );
  await client.endAsync(true);

  await add();
  await assert.rejects(plain({ clientId: result.clientId, username: "site-new", password: url.password }), {
    code: 4,
  });
});
