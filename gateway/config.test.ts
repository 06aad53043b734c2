import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError } from "../common/config-loader.ts";
import { makeTestPki } from "../uploader/test-support/pki.ts";
import { loadBrokerCredentials, loadGatewayConfig, serialDevicesOf } from "./config.ts";

test("the documented defaults apply when only the site id is given", () => {
  const config = loadGatewayConfig({ env: { DXGATE_SITE_ID: "xiaozhen-01" } });
  assert.equal(config.siteId, "xiaozhen-01");
  assert.equal(config.dicom.port, 11112);
  assert.equal(config.dicom.aeTitle, "DXGATE");
  assert.equal(config.http.port, 8081);
  assert.equal(config.broker.url, "mqtt://127.0.0.1:1883");
  assert.equal(config.upload.chunkSize, 262144);
});

test("the operators' environment variables override the defaults", () => {
  const config = loadGatewayConfig({
    env: {
      DXGATE_SITE_ID: "s1",
      DXGATE_DATA_DIR: "/var/lib/dxgate",
      DXGATE_DICOM_PORT: "104",
      DXGATE_HTTP_PORT: "0",
      DXGATE_BROKER_URL: "mqtts://county.example:8883",
    },
  });
  assert.equal(config.dataDir, "/var/lib/dxgate");
  assert.equal(config.dicom.port, 104);
  assert.equal(config.http.port, 0);
  assert.equal(config.broker.url, "mqtts://county.example:8883");
});

test("a start without a site id, or with a bad port or AE title, is refused naming each key", () => {
  assert.throws(
    () =>
      loadGatewayConfig({
        env: { DXGATE_DICOM_PORT: "70000", DXGATE_DICOM_AE_TITLE: "THIS_AE_TITLE_IS_TOO_LONG" },
      }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.problems.some((p) => p.includes("siteId")) &&
      error.problems.some((p) => p.startsWith("dicom.port:")) &&
      error.problems.some((p) => p.startsWith("dicom.aeTitle:")),
  );
  assert.throws(
    () => loadGatewayConfig({ env: { DXGATE_SITE_ID: "a/b" } }),
    (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.startsWith("siteId:")),
  );
});

test("DXGATE_SERIAL attaches devices (PATH=PROFILE, comma-separated) beside serial.devices", () => {
  const config = loadGatewayConfig({
    env: {
      DXGATE_SITE_ID: "s1",
      DXGATE_SERIAL: "/tmp/ecg-link=generic-ecg-stream-8-lead, /dev/ttyUSB3=generic-scp-ecg-usb-serial",
      DXGATE_SERIAL_WATCH: "0",
    },
    overrides: { "serial.devices": [{ path: "/dev/ttyS1", profile: "generic-scp-ecg-usb-serial" }] },
  });
  assert.equal(config.serial.watch, false);
  assert.deepEqual(serialDevicesOf(config.serial), [
    { path: "/dev/ttyS1", profile: "generic-scp-ecg-usb-serial" },
    { path: "/tmp/ecg-link", profile: "generic-ecg-stream-8-lead" },
    { path: "/dev/ttyUSB3", profile: "generic-scp-ecg-usb-serial" },
  ]);
  const defaults = loadGatewayConfig({ env: { DXGATE_SITE_ID: "s1" } });
  assert.equal(defaults.serial.watch, true);
  assert.deepEqual(serialDevicesOf(defaults.serial), []);
});

test("serial configuration problems are refused naming the key: form, unknown profile, bad profile files", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-config-profiles-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, "cart.json"),
    JSON.stringify({
      id: "site-cart",
      generic: false,
      vendor: "Acme",
      model: "C1",
      match: {},
      line: { baudRate: "fast" },
      protocol: "scp-ecg",
    }),
  );
  assert.throws(
    () =>
      loadGatewayConfig({
        env: {
          DXGATE_SITE_ID: "s1",
          DXGATE_SERIAL:
            "relative/path=generic-scp-ecg-usb-serial,/dev/x=nope,/dev/x=generic-scp-ecg-usb-serial",
          DXGATE_SERIAL_PROFILES_DIR: dir,
        },
        overrides: { "serial.devices": [{ path: "/dev/ttyS0", profile: "missing" }] },
      }),
    (error: unknown) => {
      const problems = (error as ConfigError).problems;
      const has = (start: string) => problems.some((p) => p.startsWith(start));
      return (
        error instanceof ConfigError &&
        !has("serial.attach.0 (DXGATE_SERIAL): unknown") &&
        has(
          'serial.attach.0 (DXGATE_SERIAL): must be PATH=PROFILE with an absolute PATH (got "relative/path=',
        ) &&
        has('serial.attach.1 (DXGATE_SERIAL): unknown device profile "nope" (known: generic-') &&
        has("serial.attach.2 (DXGATE_SERIAL): /dev/x is attached twice") &&
        has('serial.devices.0.profile: unknown device profile "missing"') &&
        has("serial.profilesDir: cart.json: line.baudRate: must be integer")
      );
    },
  );
});

test("serial timings outside their range are refused by key", () => {
  assert.throws(
    () =>
      loadGatewayConfig({
        env: { DXGATE_SITE_ID: "s1", DXGATE_SERIAL_REOPEN_BASE_MS: "5", DXGATE_SERIAL_RESCAN_MS: "soon" },
      }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.problems.some((p) => p.startsWith("serial.reopenBaseMs: must be >= 10")) &&
      error.problems.some((p) =>
        p.startsWith("serial.rescanMs (from DXGATE_SERIAL_RESCAN_MS): must be an integer"),
      ),
  );
  assert.throws(
    () =>
      loadGatewayConfig({
        env: { DXGATE_SITE_ID: "s1" },
        overrides: { "serial.reopenMaxMs": 100, "serial.reopenBaseMs": 200 },
      }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.problems.some((p) => p.startsWith("serial.reopenMaxMs: must be >= serial.reopenBaseMs")),
  );
});

test("the upload budget: DXGATE_UPLOAD_KBPS, a schedule by time of day, and a bad rule named by key", () => {
  const config = loadGatewayConfig({ env: { DXGATE_SITE_ID: "s1", DXGATE_UPLOAD_KBPS: "512" } });
  assert.deepEqual(config.upload.bandwidth, { kbps: 512, schedule: [] });
  assert.deepEqual(loadGatewayConfig({ env: { DXGATE_SITE_ID: "s1" } }).upload.bandwidth.kbps, 0);
  assert.equal(loadGatewayConfig({ env: { DXGATE_SITE_ID: "s1" } }).upload.keepaliveSeconds, 30);
  assert.equal(
    loadGatewayConfig({ env: { DXGATE_SITE_ID: "s1", DXGATE_UPLOAD_KEEPALIVE_S: "5" } }).upload
      .keepaliveSeconds,
    5,
  );
  assert.throws(
    () =>
      loadGatewayConfig({
        env: { DXGATE_SITE_ID: "s1" },
        overrides: {
          upload: { bandwidth: { kbps: 0, schedule: [{ from: "8:00", to: "17:30", kbps: 64 }] } },
        },
      }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.problems.some((p) => p.startsWith("upload.bandwidth.schedule.0.from")),
  );
});

test("broker TLS files and the box signing key: read, checked, and handed to the uploader", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-config-"));
  try {
    const pki = await makeTestPki(dir);
    const { privateKey } = generateKeyPairSync("ed25519");
    await writeFile(join(dir, "signing-key.pem"), privateKey.export({ type: "pkcs8", format: "pem" }));
    const env = {
      DXGATE_SITE_ID: "s1",
      DXGATE_BROKER_URL: "mqtts://s1:secret@county.example:8883",
      DXGATE_BROKER_CA: pki.files.ca,
      DXGATE_BROKER_CERT: pki.files.clientCert,
      DXGATE_BROKER_KEY: pki.files.clientKey,
      DXGATE_BOX_SIGNING_KEY: join(dir, "signing-key.pem"),
      DXGATE_UPLOAD_MANIFEST_ACK_TIMEOUT_MS: "5000",
    };
    const config = loadGatewayConfig({ env });
    assert.equal(config.broker.ca, pki.files.ca);
    assert.equal(config.upload.manifestAckTimeoutMs, 5000);
    const credentials = loadBrokerCredentials(config.broker);
    assert.ok(credentials.tls?.ca?.equals(pki.ca));
    assert.ok(credentials.tls?.cert?.equals(pki.clientCert));
    assert.ok(credentials.tls?.key?.equals(pki.clientKey));
    assert.equal(credentials.signingKey?.asymmetricKeyType, "ed25519");
    assert.equal(credentials.signingKey?.type, "private");

    const plain = loadGatewayConfig({ env: { DXGATE_SITE_ID: "s1" } });
    assert.equal(plain.upload.manifestAckTimeoutMs, 15000);
    assert.deepEqual(loadBrokerCredentials(plain.broker), {});
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("an unreadable or invalid broker file is a config error naming the field, never its contents", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-config-"));
  try {
    const pki = await makeTestPki(dir);
    // An EC key where an Ed25519 one belongs, and a key where a certificate belongs.
    await writeFile(join(dir, "not-ed25519.pem"), pki.clientKey);
    const problemsOf = (env: Record<string, string>): string[] => {
      try {
        loadGatewayConfig({ env: { DXGATE_SITE_ID: "s1", ...env } });
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.problems;
      }
      return [];
    };
    const problems = problemsOf({
      DXGATE_BROKER_URL: "mqtts://county.example:8883",
      DXGATE_BROKER_CA: join(dir, "missing.crt"),
      DXGATE_BROKER_CERT: pki.files.clientKey,
      DXGATE_BROKER_KEY: pki.files.clientKey,
      DXGATE_BOX_SIGNING_KEY: join(dir, "not-ed25519.pem"),
    });
    assert.ok(
      problems.some((p) => p.startsWith("broker.ca (DXGATE_BROKER_CA): cannot read") && p.includes("ENOENT")),
    );
    assert.ok(
      problems.some((p) => p.startsWith("broker.cert (DXGATE_BROKER_CERT):") && p.includes("certificate")),
    );
    assert.ok(
      problems.some(
        (p) => p.startsWith("broker.signingKey (DXGATE_BOX_SIGNING_KEY):") && p.includes("Ed25519"),
      ),
    );
    assert.equal(problems.length, 3, problems.join("\n"));
    assert.equal(problems.join("\n").includes("PRIVATE KEY"), false, "no key material in messages");

    const plainWithCa = problemsOf({
      DXGATE_BROKER_URL: "mqtt://county.example:1883",
      DXGATE_BROKER_CA: pki.files.ca,
    });
    assert.deepEqual(
      plainWithCa.map((p) => p.split(":")[0]),
      ["broker.url (DXGATE_BROKER_URL)"],
    );
    const certOnly = problemsOf({
      DXGATE_BROKER_URL: "mqtts://county.example:8883",
      DXGATE_BROKER_CERT: pki.files.clientCert,
    });
    assert.equal(certOnly.length, 1);
    assert.match(certOnly[0]!, /broker\.cert \/ broker\.key/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
