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

test("add-user creates an account; main then logs one listening line per service and stops on SIGTERM", async () => {
  const dir = await makeDataDir();
  try {
    const env = { DXGATE_RC_DATA_DIR: dir, DXGATE_RC_HTTP_PORT: "0", DXGATE_RC_MQTT_PORT: "0" };
    const added = run(["add-user", "dr.wang"], { ...env, DXGATE_RC_NEW_PASSWORD: "a-long-password" });
    assert.equal(await added.exit, 0);
    assert.equal(added.lines().at(-1)?.outcome, "created");

    // Not demo mode: it starts because the only account has a real password.
    const proc = run([], env);
    const deadline = Date.now() + 10_000;
    while (proc.lines().filter((l) => l.msg === "listening").length < 2) {
      if (Date.now() > deadline || proc.child.exitCode !== null)
        throw new Error(`no listening lines: ${proc.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const listening = proc.lines().filter((l) => l.msg === "listening");
    assert.deepEqual(listening.map((l) => l.service).sort(), ["http", "mqtt"]);
    for (const line of listening) {
      assert.equal(line.host, "127.0.0.1");
      assert.ok(typeof line.port === "number" && line.port > 0);
    }
    const http = listening.find((l) => l.service === "http")!;
    const login = await fetch(`http://127.0.0.1:${http.port as number}/api/login`, {
      method: "POST",
      body: JSON.stringify({ username: "dr.wang", password: "a-long-password" }),
    });
    assert.equal(login.status, 200);
    proc.child.kill("SIGTERM");
    assert.equal(await proc.exit, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("an invalid configuration exits 78 naming the key; a weak new password exits 64", async () => {
  const bad = run([], { DXGATE_RC_HTTP_PORT: "eighty" });
  const weak = run(["add-user", "dr.li"], {
    DXGATE_RC_DATA_DIR: "/nonexistent",
    DXGATE_RC_NEW_PASSWORD: "demo",
  });
  assert.equal(await bad.exit, 78);
  assert.match(bad.stderr(), /http\.port \(from DXGATE_RC_HTTP_PORT\)/);
  assert.equal(bad.lines().at(-1)?.code, "CONFIG_INVALID");
  assert.equal(await weak.exit, 64);
  assert.equal(weak.lines().at(-1)?.code, "USER_INVALID");
});

test("add-box and disable-box: one JSON line with paths (never the password); errors named with their exit codes", async () => {
  const dir = await makeDataDir();
  try {
    const env = { DXGATE_RC_DATA_DIR: dir };
    const added = run(["add-box", "site-9", "--broker-url", "mqtts://county.example:8883"], env);
    assert.equal(await added.exit, 0, added.stderr());
    const [result] = added.lines();
    assert.equal(added.lines().length, 1);
    assert.equal(result?.siteId, "site-9");
    assert.equal(result?.created, true);
    assert.equal(result?.brokerUrl, "mqtts://site-9:***@county.example:8883");
    assert.equal(result?.cert, undefined, "no county CA: password only");
    assert.match(added.stderr(), /box site-9 created/);

    const again = run(["--config", "/dev/null", "add-box", "site-9"], env);
    assert.equal(await again.exit, 78, "an unreadable config is a config error");
    const rotated = run(["add-box", "site-9"], env);
    assert.equal(await rotated.exit, 0);
    assert.equal(rotated.lines()[0]?.created, false);
    assert.equal(rotated.lines()[0]?.brokerUrl, "mqtt://site-9:***@127.0.0.1:1883");

    const disabled = run(["disable-box", "site-9"], env);
    assert.equal(await disabled.exit, 0);
    assert.deepEqual(disabled.lines()[0], { siteId: "site-9", disabled: true });

    const bad = run(["add-box", "../etc"], env);
    assert.equal(await bad.exit, 64);
    assert.equal(bad.lines().at(-1)?.code, "BOX_INVALID");
    const unknown = run(["disable-box", "nobody"], env);
    assert.equal(await unknown.exit, 64);
    assert.equal(unknown.lines().at(-1)?.code, "BOX_UNKNOWN");
    const misplaced = run(["disable-box", "site-9", "--out", "/tmp/x"], env);
    assert.equal(await misplaced.exit, 64);
    assert.match(misplaced.stderr(), /--out only go with add-box/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("parseArgs: add-box options in either form, --config anywhere", async () => {
  const { parseArgs } = await import("./main.ts");
  assert.deepEqual(parseArgs(["add-box", "s1", "--out=/o", "--broker-url", "mqtt://h:1"]), {
    configFile: undefined,
    command: { name: "add-box", siteId: "s1", outDir: "/o", brokerUrl: "mqtt://h:1" },
  });
  assert.deepEqual(parseArgs(["disable-box", "s1", "--config", "rc.json"]), {
    configFile: "rc.json",
    command: { name: "disable-box", siteId: "s1" },
  });
  assert.throws(() => parseArgs(["add-box"]), { code: "USAGE" });
  assert.throws(() => parseArgs(["add-box", "s1", "--out"]), { code: "USAGE" });
});
