import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import mqtt, { type MqttClient } from "mqtt";
import { makeTestPki, SKIP_WITHOUT_MOSQUITTO, startMosquitto } from "../../test/support/mosquitto.ts";
import {
  type BoxRegistryFile,
  generateMosquittoFiles,
  mosquittoPasswordHash,
  RECEIVER_USERNAME,
  readBoxRegistry,
  verifyMosquittoPassword,
} from "./mosquitto-config.ts";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("mosquitto password hashes", () => {
  test("mosquittoPasswordHash is the $7$ PBKDF2-SHA512 format mosquitto_passwd writes", {
    skip: SKIP_WITHOUT_MOSQUITTO,
  }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "dxgate-mq-pw-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "passwd");
    await run("mosquitto_passwd", ["-c", "-b", file, "alice", "s3cret-pass"]);
    const written = (await readFile(file, "utf8")).trim().split(":")[1]!;
    assert.match(written, /^\$7\$101\$/);
    assert.equal(verifyMosquittoPassword("s3cret-pass", written), true);
    assert.equal(verifyMosquittoPassword("wrong", written), false);
    // Ours, with mosquitto_passwd's salt and iterations, gives mosquitto_passwd's line exactly.
    const [, , iterations, salt] = written.split("$");
    assert.equal(
      mosquittoPasswordHash("s3cret-pass", {
        iterations: Number(iterations),
        salt: Buffer.from(salt!, "base64"),
      }),
      written,
    );
    const ours = mosquittoPasswordHash("s3cret-pass");
    assert.match(ours, /^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    assert.equal(verifyMosquittoPassword("s3cret-pass", ours), true);
  });

  test("the registry's own PBKDF2 form and a missing hash", () => {
    const salt = Buffer.alloc(12, 7);
    const line = mosquittoPasswordHash("pw", { salt, iterations: 1000 });
    const [, , , , hashB64] = line.split("$");
    const files = generateMosquittoFiles({
      countyId: "county",
      receiver: {},
      registry: {
        version: 1,
        boxes: {
          "site-x": {
            siteId: "site-x",
            password: {
              algorithm: "pbkdf2-sha512",
              salt: salt.toString("hex"),
              hash: Buffer.from(hashB64!, "base64").toString("hex"),
              iterations: 1000,
            },
          },
          "site-y": { siteId: "site-y", password: { algorithm: "scrypt", salt: "00", hash: "00" } },
        },
      },
    });
    assert.equal(files.passwords, `site-x:${line}\n`);
    assert.deepEqual(files.certificateOnly, ["site-y"]);
  });

  test("a site id that is the receiver's username, or not a topic level, is refused", () => {
    const registry = (siteId: string): BoxRegistryFile => ({ version: 1, boxes: { [siteId]: { siteId } } });
    assert.throws(
      () =>
        generateMosquittoFiles({ countyId: "county", receiver: {}, registry: registry(RECEIVER_USERNAME) }),
      /receiver's username/,
    );
    assert.throws(
      () => generateMosquittoFiles({ countyId: "county", receiver: {}, registry: registry("a/#") }),
      /invalid site id/,
    );
  });
});

const COUNTY = "county";
const up = (site: string, kind: string) => `dxgate/v1/${COUNTY}/${site}/up/${kind}`;
const down = (site: string, kind: string) => `dxgate/v1/${COUNTY}/${site}/down/${kind}`;

async function connect(port: number, username: string | undefined, password: string | undefined) {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  });
}

/** Messages a client gets, by topic. */
function collect(client: MqttClient): Array<{ topic: string; payload: string }> {
  const got: Array<{ topic: string; payload: string }> = [];
  client.on("message", (topic, payload) => got.push({ topic, payload: payload.toString() }));
  return got;
}

describe("a county's mosquitto configured from the box registry", { skip: SKIP_WITHOUT_MOSQUITTO }, () => {
  test("boxes log in with their own passwords only; each publishes and reads only its own site", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "dxgate-mq-acl-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const secrets = { a: "box-a-password", b: "box-b-password", c: "box-c-password", rc: "receiver-secret" };
    const registry: BoxRegistryFile = {
      version: 1,
      boxes: {
        "site-a": { siteId: "site-a", mosquittoPassword: mosquittoPasswordHash(secrets.a) },
        "site-b": { siteId: "site-b", mosquittoPassword: mosquittoPasswordHash(secrets.b) },
        "site-c": { siteId: "site-c", mosquittoPassword: mosquittoPasswordHash(secrets.c), disabled: true },
      },
    };
    await writeFile(join(dir, "boxes.json"), JSON.stringify(registry));
    const files = generateMosquittoFiles({
      countyId: COUNTY,
      registry: await readBoxRegistry(dir),
      receiver: { passwordHash: mosquittoPasswordHash(secrets.rc) },
    });
    assert.deepEqual(files.boxes, ["site-a", "site-b"]);
    assert.deepEqual(files.disabled, ["site-c"]);
    await writeFile(join(dir, "passwd"), files.passwords, { mode: 0o600 });
    await writeFile(join(dir, "acl"), files.acl);
    const broker = await startMosquitto({ passwordFile: join(dir, "passwd"), aclFile: join(dir, "acl") });
    t.after(() => broker.stop());
    const clients: MqttClient[] = [];
    t.after(() => Promise.all(clients.map((c) => c.endAsync(true))));
    const login = async (user: string | undefined, password: string | undefined) => {
      const client = await connect(broker.port, user, password);
      clients.push(client);
      return client;
    };

    // Who gets in.
    await assert.rejects(login(undefined, undefined), /Not authorized|Bad username/i, "anonymous");
    await assert.rejects(login("site-a", secrets.b), /Not authorized|Bad username/i, "B's password as A");
    await assert.rejects(login("site-c", secrets.c), /Not authorized|Bad username/i, "a disabled box");
    await assert.rejects(login(RECEIVER_USERNAME, "guess"), /Not authorized|Bad username/i);
    const receiver = await login(RECEIVER_USERNAME, secrets.rc);
    const boxA = await login("site-a", secrets.a);
    const boxB = await login("site-b", secrets.b);

    // Uploads: the receiver sees A's own, never A's posing as B nor anything outside the county tree.
    const atReceiver = collect(receiver);
    await receiver.subscribeAsync(`dxgate/v1/${COUNTY}/+/up/#`, { qos: 1 });
    const atB = collect(boxB);
    // A box may not listen to another's uploads. Mosquitto 2.0's file ACL grants any subscription
    // (no SUBACK 0x80) and checks read access on each delivery instead: nothing of B's reaches A.
    const atA = collect(boxA);
    await boxA.subscribeAsync(up("site-b", "chunk"), { qos: 1 });
    await boxA.subscribeAsync(`dxgate/v1/${COUNTY}/+/up/#`, { qos: 1 });
    await boxA.publishAsync(up("site-a", "chunk"), "a-own", { qos: 1 });
    // Mosquitto drops a denied publish from a 3.1.1 client silently (it still PUBACKs).
    await boxA.publishAsync(up("site-b", "chunk"), "a-as-b", { qos: 1 });
    await run("mosquitto_pub", [
      ...["-h", "127.0.0.1", "-p", String(broker.port), "-q", "1", "-V", "mqttv311"],
      ...["-u", "site-a", "-P", secrets.a, "-t", up("site-b", "commit"), "-m", "pub-a-as-b"],
    ]);
    await run("mosquitto_pub", [
      ...["-h", "127.0.0.1", "-p", String(broker.port), "-q", "1", "-V", "mqttv311"],
      ...["-u", "site-a", "-P", secrets.a, "-t", up("site-a", "commit"), "-m", "pub-a-own"],
    ]);

    // Downlink: A reads its own down topics; B's reports never reach A.
    await boxA.subscribeAsync(down("site-a", "+"), { qos: 1 });
    await boxA.subscribeAsync(down("site-b", "+"), { qos: 1 });
    await boxB.subscribeAsync(down("site-b", "+"), { qos: 1 });
    // mosquitto_sub as A on B's topics: nothing arrives before it times out.
    const sniff = run(
      "mosquitto_sub",
      [
        ...["-h", "127.0.0.1", "-p", String(broker.port), "-q", "1", "-V", "mqttv311", "-C", "1", "-W", "3"],
        ...["-u", "site-a", "-P", secrets.a, "-t", down("site-b", "report"), "-t", up("site-b", "#")],
      ],
      { timeout: 10_000 },
    ).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code, stdout: e.stdout ?? "" }),
    );
    await sleep(500);
    await receiver.publishAsync(down("site-a", "report"), "report-for-a", { qos: 1 });
    await receiver.publishAsync(down("site-b", "report"), "report-for-b", { qos: 1 });
    await boxB.publishAsync(up("site-b", "chunk"), "b-own", { qos: 1 });
    // A box may not publish downward, even to itself, nor outside the protocol tree.
    await boxA.publishAsync(down("site-a", "commit-ack"), "a-forged-ack", { qos: 1 });
    await boxA.publishAsync(down("site-b", "report"), "a-forged-report", { qos: 1 });
    await boxA.publishAsync("elsewhere/topic", "a-elsewhere", { qos: 1 });
    const sniffed = await sniff;
    assert.equal(sniffed.stdout, "", "mosquitto_sub as A saw nothing of B's");
    assert.notEqual(sniffed.code, 0, "mosquitto_sub as A timed out without a message");
    await sleep(300);

    assert.deepEqual(atReceiver.map((m) => m.payload).sort(), ["a-own", "b-own", "pub-a-own"]);
    assert.deepEqual(atReceiver.map((m) => m.topic).sort(), [
      up("site-a", "chunk"),
      up("site-a", "commit"),
      up("site-b", "chunk"),
    ]);
    assert.deepEqual(
      atA.map((m) => m.payload),
      ["report-for-a"],
    );
    assert.deepEqual(
      atB.map((m) => m.payload),
      ["report-for-b"],
      "B got its report and none forged by A",
    );

    // A takes over B's persistent session by its client id (Mosquitto does not tie client ids to
    // usernames): the session's subscription to B's topics comes along, B's queued report does not.
    const bSession = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      protocolVersion: 4,
      clean: false,
      clientId: "dxgate-box-county-site-b",
      username: "site-b",
      password: secrets.b,
      reconnectPeriod: 0,
    });
    await bSession.subscribeAsync(down("site-b", "+"), { qos: 1 });
    await bSession.endAsync();
    await receiver.publishAsync(down("site-b", "report"), "queued-for-b", { qos: 1 });
    const thief = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, {
      protocolVersion: 4,
      clean: false,
      clientId: "dxgate-box-county-site-b",
      username: "site-a",
      password: secrets.a,
      reconnectPeriod: 0,
    });
    clients.push(thief);
    const stolen = collect(thief);
    await new Promise((resolve) => thief.once("connect", resolve));
    await sleep(500);
    assert.deepEqual(stolen, [], "A in B's session reads nothing of B's");
  });
});

describe("npm run mosquitto-config", () => {
  test("writes passwd (0600) and acl from the registry, the receiver's password from the environment", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "dxgate-mq-cli-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const registry: BoxRegistryFile = {
      version: 1,
      boxes: {
        "site-a": { siteId: "site-a", mosquittoPassword: mosquittoPasswordHash("pw-a") },
        "site-s": { siteId: "site-s", password: { algorithm: "scrypt" } },
      },
    };
    await writeFile(join(dir, "boxes.json"), JSON.stringify(registry));
    const out = join(dir, "mosquitto");
    const { stdout, stderr } = await run(
      process.execPath,
      [
        join(import.meta.dirname, "..", "mosquitto-config.ts"),
        ...["--data-dir", dir, "--county", "c1", "--out", out, "--receiver-password-env", "RC_MQ_PW"],
      ],
      { env: { ...process.env, RC_MQ_PW: "receiver-pw" } },
    );
    const result = JSON.parse(stdout) as Record<string, unknown>;
    assert.deepEqual(result.boxes, ["site-a"]);
    assert.deepEqual(result.certificateOnly, ["site-s"]);
    assert.equal(result.receiverUser, RECEIVER_USERNAME);
    assert.match(stderr, /site-s/);
    assert.doesNotMatch(stdout + stderr, /receiver-pw|pw-a/, "no password printed");
    const passwd = await readFile(join(out, "passwd"), "utf8");
    const lines = new Map(
      passwd
        .trim()
        .split("\n")
        .map((l) => l.split(":") as [string, string]),
    );
    assert.deepEqual([...lines.keys()].sort(), [RECEIVER_USERNAME, "site-a"]);
    assert.equal(verifyMosquittoPassword("receiver-pw", lines.get(RECEIVER_USERNAME)!), true);
    assert.equal((await stat(join(out, "passwd"))).mode & 0o777, 0o600);
    const acl = await readFile(join(out, "acl"), "utf8");
    assert.match(acl, /^pattern write dxgate\/v1\/c1\/%u\/up\/#$/m);
    assert.match(acl, /^pattern read dxgate\/v1\/c1\/%u\/down\/#$/m);
  });

  test("a missing --out or an unset password variable is a usage error (64)", async () => {
    const script = join(import.meta.dirname, "..", "mosquitto-config.ts");
    await assert.rejects(run(process.execPath, [script]), (e: { code?: number }) => e.code === 64);
    await assert.rejects(
      run(process.execPath, [script, "--out", tmpdir(), "--receiver-password-env", "DXGATE_UNSET_FOR_TEST"], {
        env: { ...process.env, DXGATE_RC_DATA_DIR: join(tmpdir(), "dxgate-none") },
      }),
      (e: { code?: number }) => e.code === 64,
    );
  });
});

describe("a county's mosquitto with mutual TLS", { skip: SKIP_WITHOUT_MOSQUITTO }, () => {
  test("a box's certificate CN is its username for the ACL; no certificate, or another CA's, gets nothing", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "dxgate-mq-tls-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const pki = await makeTestPki(dir, ["site-a", "site-b", "site-c"]);
    const files = generateMosquittoFiles({
      countyId: COUNTY,
      registry: {
        version: 1,
        boxes: {
          "site-a": { siteId: "site-a" },
          "site-b": { siteId: "site-b" },
          "site-c": { siteId: "site-c", disabled: true },
        },
      },
      receiver: { passwordHash: mosquittoPasswordHash("rc-pw") },
    });
    assert.deepEqual(files.certificateOnly, ["site-a", "site-b"]);
    await writeFile(join(dir, "passwd"), files.passwords, { mode: 0o600 });
    await writeFile(join(dir, "acl"), files.acl);
    const broker = await startMosquitto({
      passwordFile: join(dir, "passwd"),
      aclFile: join(dir, "acl"),
      tls: {
        cert: `${pki.server}.crt`,
        key: `${pki.server}.key`,
        ca: `${pki.ca}.crt`,
        requireCertificate: true,
      },
    });
    t.after(() => broker.stop());
    const clients: MqttClient[] = [];
    t.after(() => Promise.all(clients.map((c) => c.endAsync(true))));
    const ca = await readFile(`${pki.ca}.crt`);
    const tlsLogin = async (name: string | undefined, serverCa = ca) => {
      const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${broker.tlsPort}`, {
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        ca: serverCa,
        rejectUnauthorized: true,
        ...(name ? { cert: await readFile(`${name}.crt`), key: await readFile(`${name}.key`) } : {}),
      });
      clients.push(client);
      return client;
    };

    await assert.rejects(tlsLogin(undefined), "no client certificate");
    await assert.rejects(tlsLogin(pki.stranger), "a certificate for site-a from another CA");
    await assert.rejects(
      tlsLogin(pki["site-a"], await readFile(`${pki.stranger}.crt`)),
      "the box checks the server",
    );

    const receiver = await connect(broker.port, RECEIVER_USERNAME, "rc-pw");
    const atReceiver = collect(receiver);
    await receiver.subscribeAsync(`dxgate/v1/${COUNTY}/+/up/#`, { qos: 1 });
    const boxA = await tlsLogin(pki["site-a"]);
    const boxB = await tlsLogin(pki["site-b"]);
    const boxC = await tlsLogin(pki["site-c"]);
    const atA = collect(boxA);
    const atB = collect(boxB);
    const atC = collect(boxC);
    await boxA.subscribeAsync([down("site-a", "+"), down("site-b", "+")], { qos: 1 });
    await boxB.subscribeAsync(down("site-b", "+"), { qos: 1 });
    await boxC.subscribeAsync(down("site-c", "+"), { qos: 1 });
    await boxA.publishAsync(up("site-a", "chunk"), "a-own", { qos: 1 });
    await boxA.publishAsync(up("site-b", "chunk"), "a-as-b", { qos: 1 });
    await boxC.publishAsync(up("site-c", "chunk"), "c-disabled", { qos: 1 });
    await receiver.publishAsync(down("site-a", "report"), "report-for-a", { qos: 1 });
    await receiver.publishAsync(down("site-b", "report"), "report-for-b", { qos: 1 });
    await receiver.publishAsync(down("site-c", "report"), "report-for-c", { qos: 1 });
    await sleep(500);
    assert.deepEqual(
      atReceiver.map((m) => m.payload),
      ["a-own"],
    );
    assert.deepEqual(
      atA.map((m) => m.payload),
      ["report-for-a"],
    );
    assert.deepEqual(
      atB.map((m) => m.payload),
      ["report-for-b"],
    );
    assert.deepEqual(atC, [], "a disabled box's certificate still verifies, but every topic is denied");
  });
});
