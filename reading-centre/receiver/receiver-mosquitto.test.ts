/**
 * The Receiver on a real Mosquitto 2: over TLS with the receiver user's password in the URL and the
 * county CA, and several receivers sharing the chunks through the shared subscription (each chunk to
 * exactly one, the other kinds to the main one only).
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import mqtt from "mqtt";
import { makeTestPki, SKIP_WITHOUT_MOSQUITTO, startMosquitto } from "../../test/support/mosquitto.ts";
import type { UpKind } from "../../uploader/protocol/index.ts";
import {
  generateMosquittoFiles,
  mosquittoPasswordHash,
  RECEIVER_USERNAME,
} from "../broker/mosquitto-config.ts";
import { LogCapture } from "../testing/harness.ts";
import type { UpHandler } from "./context.ts";
import { Receiver } from "./receiver.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const up = (site: string, kind: string) => `dxgate/v1/county/${site}/up/${kind}`;

describe("the receiver on Mosquitto", { skip: SKIP_WITHOUT_MOSQUITTO }, () => {
  test("over TLS with its password in the URL; chunks shared by three receivers, each chunk once", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "dxgate-rcv-mq-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const pki = await makeTestPki(dir, []);
    const files = generateMosquittoFiles({
      countyId: "county",
      registry: {
        version: 1,
        boxes: { "site-a": { siteId: "site-a", mosquittoPassword: mosquittoPasswordHash("a") } },
      },
      receiver: { passwordHash: mosquittoPasswordHash("rc-secret") },
    });
    await writeFile(join(dir, "passwd"), files.passwords, { mode: 0o600 });
    await writeFile(join(dir, "acl"), files.acl);
    // A TLS listener without client certificates: boxes and receivers log in with passwords.
    const broker = await startMosquitto({
      passwordFile: join(dir, "passwd"),
      aclFile: join(dir, "acl"),
      tls: { cert: `${pki.server}.crt`, key: `${pki.server}.key`, ca: `${pki.ca}.crt` },
    });
    t.after(() => broker.stop());
    const ca = await readFile(`${pki.ca}.crt`);
    const url = `mqtts://${RECEIVER_USERNAME}:rc-secret@127.0.0.1:${broker.tlsPort}`;

    const handled: Array<{ by: string; kind: UpKind; payload: string }> = [];
    const record =
      (by: string, kind: UpKind): UpHandler =>
      async (_site, payload) => {
        handled.push({ by, kind, payload: payload.toString() });
      };
    const logs = new LogCapture();
    const main = new Receiver({
      url,
      countyId: "county",
      handlers: {
        chunk: record("main", "chunk"),
        manifest: record("main", "manifest"),
        commit: record("main", "commit"),
      },
      sharedChunks: true,
      tls: { ca },
      log: logs.log,
    });
    const workers = ["w1", "w2"].map(
      (id) =>
        new Receiver({
          url,
          countyId: "county",
          handlers: { chunk: record(id, "chunk") },
          sharedChunks: true,
          clientId: `dxgate-rc-chunk-worker-county-${id}`,
          clean: true,
          tls: { ca },
          log: logs.log,
        }),
    );
    t.after(() => Promise.all([main, ...workers].map((r) => r.stop())));
    for (const receiver of [main, ...workers]) await receiver.start(true);

    const box = await mqtt.connectAsync(`mqtts://127.0.0.1:${broker.tlsPort}`, {
      protocolVersion: 4,
      username: "site-a",
      password: "a",
      ca,
      rejectUnauthorized: true,
      reconnectPeriod: 0,
    });
    t.after(() => box.endAsync(true));
    await box.publishAsync(up("site-a", "manifest"), "m1", { qos: 1 });
    const chunks = Array.from({ length: 30 }, (_, i) => `c${i}`);
    for (const chunk of chunks) await box.publishAsync(up("site-a", "chunk"), chunk, { qos: 1 });
    await box.publishAsync(up("site-a", "commit"), "k1", { qos: 1 });
    for (let i = 0; i < 50 && handled.length < chunks.length + 2; i++) await sleep(100);
    await sleep(200);

    const got = handled.filter((h) => h.kind === "chunk");
    assert.deepEqual(got.map((h) => h.payload).sort(), [...chunks].sort(), "every chunk exactly once");
    for (const by of ["main", "w1", "w2"]) {
      assert.ok(
        got.some((h) => h.by === by),
        `${by} handled some chunks`,
      );
    }
    assert.deepEqual(
      handled.filter((h) => h.kind !== "chunk").map((h) => `${h.by}:${h.kind}:${h.payload}`),
      ["main:manifest:m1", "main:commit:k1"],
      "manifests and commits to the main receiver only",
    );
    assert.ok(
      !logs.lines.some((l) => JSON.stringify(l).includes("rc-secret")),
      "the password is never logged",
    );
  });
});
