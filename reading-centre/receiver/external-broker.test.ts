import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import mqtt from "mqtt";
import { FakeBox, makeStudy } from "../testing/box.ts";
import { disposeRc, makeDataDir, startRc, waitUntil } from "../testing/harness.ts";

const MOSQUITTO = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"].find(existsSync);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startMosquitto(dir: string): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const proc = spawn(MOSQUITTO!, ["-c", conf], { stdio: "ignore" });
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      const probe = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 }, false);
      await probe.endAsync(true);
      return { port, proc };
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

test("with mqtt.brokerUrl the receiver uses that broker and embeds none", {
  skip: MOSQUITTO ? false : "mosquitto is not installed (apt-get install mosquitto)",
}, async () => {
  const dir = await makeDataDir();
  const { port, proc } = await startMosquitto(dir);
  const rc = await startRc({ dataDir: dir, overrides: { "mqtt.brokerUrl": `mqtt://127.0.0.1:${port}` } });
  try {
    assert.equal(rc.mqttPort, port);
    assert.equal(rc.logs.find("listening", { service: "mqtt" }).length, 0);
    // start() does not wait for an external broker; the first session has to subscribe before a box sends.
    await waitUntil(() => rc.logs.find("mqtt receiver connected").length === 1);
    const box = await FakeBox.connect(port, "site-ext");
    try {
      const study = makeStudy({ sizes: [3000, 2000] });
      const ack = await box.sendStudy(study);
      assert.equal(ack.status, "ok");
      const token = await rc.login();
      const list = (await rc.api("GET", "/api/worklist", { token })).json as Array<{
        studyInstanceUid: string;
      }>;
      assert.ok(list.some((s) => s.studyInstanceUid === study.study.studyInstanceUid));
    } finally {
      await box.end();
    }
  } finally {
    await disposeRc(rc);
    proc.kill("SIGTERM");
  }
});
