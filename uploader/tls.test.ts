import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import { createLogger } from "../common/logger.ts";
import { createUploader, type UploaderOptions } from "./index.ts";
import { splitCredentials } from "./session.ts";
import { startBroker } from "./test-support/broker.ts";
import { FakeReadingCentre } from "./test-support/fake-reading-centre.ts";
import { delay, makeStudy, type TempDir, tempDir } from "./test-support/fixtures.ts";
import { FAST, SITE } from "./test-support/harness.ts";
import { MemoryInbox, MemoryQueue } from "./test-support/memory-ports.ts";
import { makeTestPki, type TestPki } from "./test-support/pki.ts";

// A password with characters that must be percent-encoded in the URL.
const PASSWORD = "pa:ss@w/rd%1";
const USER = SITE.siteId;
const encoded = `${USER}:${encodeURIComponent(PASSWORD)}`;

let pki: TestPki;
let pkiDir: TempDir;

before(async () => {
  pkiDir = await tempDir();
  pki = await makeTestPki(pkiDir.path);
});
after(async () => {
  await pkiDir.remove();
});

function capture(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, log: createLogger({ name: "test", level: "debug", destination }) };
}

async function tlsWorld(options: { requestCert?: boolean } = {}) {
  const broker = await startBroker(0, {
    tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requestCert: options.requestCert ?? false },
    credentials: { username: USER, password: PASSWORD },
  });
  const peer = await FakeReadingCentre.start(broker.url, SITE.countyId, {
    ca: pki.ca,
    username: USER,
    password: PASSWORD,
    ...(options.requestCert ? { cert: pki.clientCert, key: pki.clientKey } : {}),
  });
  const dir = await tempDir();
  const port = new URL(broker.url).port;
  return {
    broker,
    peer,
    dir,
    port,
    async close() {
      await peer.close();
      await broker.kill();
      await dir.remove();
    },
  };
}

function box(brokerUrl: string, extra: Partial<UploaderOptions>) {
  const queue = new MemoryQueue();
  const { lines, log } = capture();
  const uploader = createUploader({
    brokerUrl,
    site: SITE,
    queue,
    inbox: new MemoryInbox(),
    log,
    ...FAST,
    ...extra,
  });
  return { queue, lines, uploader };
}

test("splitCredentials takes user and password out of the URL, percent-decoded", () => {
  assert.deepEqual(splitCredentials(`mqtts://${encoded}@127.0.0.1:8883`), {
    url: "mqtts://127.0.0.1:8883",
    credentials: { username: USER, password: PASSWORD },
  });
  assert.deepEqual(splitCredentials("mqtt://127.0.0.1:1883"), {
    url: "mqtt://127.0.0.1:1883",
    credentials: {},
  });
});

test("TLS with the county CA and a password in the URL: the study is delivered; the password is never logged", async () => {
  const w = await tlsWorld();
  const { queue, lines, uploader } = box(`mqtts://${encoded}@127.0.0.1:${w.port}`, { tls: { ca: pki.ca } });
  try {
    const { outbound } = await makeStudy(w.dir.path, [20_000]);
    queue.add(outbound);
    await uploader.start();
    await queue.waitFor((e) => e.kind === "delivered");
    assert.equal(uploader.isConnected(), true);
    assert.ok(lines.some((line) => line.includes("connected to broker")));
    assert.equal(
      lines.some((line) => line.includes(PASSWORD) || line.includes(encodeURIComponent(PASSWORD))),
      false,
    );
  } finally {
    await uploader.stop();
    await w.close();
  }
});

test("a broker certificate from another CA: the box never connects, and says so without the password", async () => {
  const w = await tlsWorld();
  const { queue, lines, uploader } = box(`mqtts://${encoded}@127.0.0.1:${w.port}`, {
    tls: { ca: pki.otherCa },
  });
  try {
    const { outbound } = await makeStudy(w.dir.path, [2000]);
    queue.add(outbound);
    await uploader.start();
    await delay(1000);
    assert.equal(uploader.isConnected(), false);
    assert.equal(queue.events.length, 0, "nothing attempted");
    assert.equal(w.peer.of("status").length, 0, "the broker never saw the box");
    const warning = lines.find((line) => line.includes("broker unreachable"));
    assert.ok(warning, "the failure is logged");
    assert.match(warning, /127\.0\.0\.1/);
    assert.match(lines.join("\n"), /certificate/i, "the reason names the certificate");
    assert.equal(
      lines.some((line) => line.includes(PASSWORD) || line.includes(encodeURIComponent(PASSWORD))),
      false,
    );
  } finally {
    await uploader.stop();
    await w.close();
  }
});

test("a wrong password is refused by the broker; the box keeps trying without logging it", async () => {
  const w = await tlsWorld();
  const wrong = "not-the-password";
  const { lines, uploader } = box(`mqtts://${USER}:${wrong}@127.0.0.1:${w.port}`, { tls: { ca: pki.ca } });
  try {
    await uploader.start();
    await delay(600);
    assert.equal(uploader.isConnected(), false);
    assert.equal(
      lines.some((line) => line.includes(wrong)),
      false,
    );
  } finally {
    await uploader.stop();
    await w.close();
  }
});

test("mutual TLS: with its client certificate the box gets in, without it it does not", async () => {
  const w = await tlsWorld({ requestCert: true });
  const withCert = box(`mqtts://${encoded}@127.0.0.1:${w.port}`, {
    tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
  });
  const withoutCert = box(`mqtts://${encoded}@127.0.0.1:${w.port}`, { tls: { ca: pki.ca } });
  try {
    await withCert.uploader.start();
    await w.peer.waitFor("status", (e) => e.message.online);
    assert.equal(withCert.uploader.isConnected(), true);
    await withCert.uploader.stop();

    await withoutCert.uploader.start();
    await delay(600);
    assert.equal(withoutCert.uploader.isConnected(), false);
  } finally {
    await withCert.uploader.stop();
    await withoutCert.uploader.stop();
    await w.close();
  }
});

test("TLS material on a plain mqtt:// URL is refused at createUploader", () => {
  assert.throws(
    () => box("mqtt://127.0.0.1:1883", { tls: { ca: Buffer.from("x") } }),
    /tls is set but brokerUrl scheme mqtt: is not a TLS one/,
  );
  assert.throws(
    () => box("mqtts://127.0.0.1:8883", { tls: { cert: Buffer.from("x") } }),
    /tls\.cert and tls\.key go together/,
  );
});
