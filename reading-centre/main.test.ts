import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { makeDataDir } from "./testing/harness.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, DXGATE_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = once(child, "exit").then(([code]) => code as number | null);
  const lines = () =>
    stdout
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, exit, lines, stderr: () => stderr };
}

test("main logs one listening line per service with the bound port, and stops on SIGTERM", async () => {
  const dir = await makeDataDir();
  try {
    const proc = run([], {
      DXGATE_RC_DATA_DIR: dir,
      DXGATE_RC_HTTP_PORT: "0",
      DXGATE_RC_MQTT_PORT: "0",
      DXGATE_RC_DEMO: "1",
    });
    const deadline = Date.now() + 10_000;
    while (proc.lines().filter((l) => l.msg === "listening").length < 2) {
      if (Date.now() > deadline) throw new Error(`no listening lines: ${proc.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const listening = proc.lines().filter((l) => l.msg === "listening");
    assert.deepEqual(listening.map((l) => l.service).sort(), ["http", "mqtt"]);
    for (const line of listening) {
      assert.equal(line.host, "127.0.0.1");
      assert.ok(typeof line.port === "number" && line.port > 0);
    }
    const http = listening.find((l) => l.service === "http")!;
    const health = await fetch(`http://127.0.0.1:${http.port as number}/api/health`);
    assert.deepEqual(await health.json(), { status: "ok" });
    proc.child.kill("SIGTERM");
    assert.equal(await proc.exit, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("an invalid configuration exits non-zero naming the key", async () => {
  const proc = run([], { DXGATE_RC_HTTP_PORT: "eighty" });
  assert.equal(await proc.exit, 2);
  assert.match(proc.stderr(), /http\.port \(from DXGATE_RC_HTTP_PORT\)/);
  assert.equal(proc.lines().at(-1)?.code, "CONFIG_INVALID");
});

test("add-user creates a user from DXGATE_RC_NEW_PASSWORD and refuses a weak one", async () => {
  const dir = await makeDataDir();
  try {
    const weak = run(["add-user", "dr.wang"], { DXGATE_RC_DATA_DIR: dir, DXGATE_RC_NEW_PASSWORD: "demo" });
    assert.equal(await weak.exit, 2);
    const ok = run(["add-user", "dr.wang"], {
      DXGATE_RC_DATA_DIR: dir,
      DXGATE_RC_NEW_PASSWORD: "a-long-password",
    });
    assert.equal(await ok.exit, 0);
    assert.equal(ok.lines().at(-1)?.outcome, "created");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
