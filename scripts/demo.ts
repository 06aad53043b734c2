/**
 * `npm start`: the whole chain on one machine, loopback only — the reading centre with its embedded
 * MQTT broker and a demo diagnostician account, and one gateway pointed at it. Prints where
 * everything is and how to log in; Ctrl-C stops both cleanly.
 *
 * Ports and directories follow the same environment variables as the processes themselves
 * (DXGATE_DICOM_PORT, DXGATE_HTTP_PORT, DXGATE_RC_HTTP_PORT, DXGATE_RC_MQTT_PORT, …), so several
 * demo stacks can run side by side; DXGATE_DEMO_DIR moves all their data (default ./demo-data).
 *
 * An ECG goes through too: the ECG simulator streams one synthetic 12-lead ECG (as an 8-lead
 * acquisition module) into a pseudo-terminal linked at <demo dir>/ecg/tty-ecg, which the gateway
 * reads as a serial ECG device (DXGATE_SERIAL). DXGATE_DEMO_ECG=0 leaves it out.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { GATEWAY_NODE_FLAGS } from "../gateway/node-flags.ts";

const root = join(import.meta.dirname, "..");
const demoDir = resolve(process.env.DXGATE_DEMO_DIR ?? join(root, "demo-data"));
mkdirSync(demoDir, { recursive: true });
const demoEcg = !/^(0|false|no|off)$/i.test(process.env.DXGATE_DEMO_ECG ?? "");
const ecgLink = join(demoDir, "ecg", "tty-ecg");

interface Child {
  name: string;
  process: ChildProcess;
  ports: Map<string, number>;
}

function start(
  name: string,
  script: string,
  env: Record<string, string>,
  services: string[],
  nodeFlags: readonly string[] = [],
): Promise<Child> {
  const log = createWriteStream(join(demoDir, `${name}.log`), { flags: "a" });
  const child = spawn(process.execPath, [...nodeFlags, join(root, script)], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // Own process group: Ctrl-C reaches only this script, which then stops the gateway before the
    // reading centre (the gateway says goodbye to a broker that is still there).
    detached: true,
  });
  const ports = new Map<string, number>();
  return new Promise((resolveStart, rejectStart) => {
    const onLine = (text: string) => {
      log.write(`${text}\n`);
      let line: { msg?: string; service?: string; port?: number; level?: number };
      try {
        line = JSON.parse(text);
      } catch {
        process.stderr.write(`[${name}] ${text}\n`);
        return;
      }
      if ((line.level ?? 0) >= 50) process.stderr.write(`[${name}] ${text}\n`);
      if (line.msg === "listening" && line.service && typeof line.port === "number") {
        ports.set(line.service, line.port);
        if (services.every((s) => ports.has(s))) resolveStart({ name, process: child, ports });
      }
    };
    createInterface({ input: child.stdout! }).on("line", onLine);
    createInterface({ input: child.stderr! }).on("line", onLine);
    child.once("exit", (code) =>
      rejectStart(new Error(`${name} exited during start (code ${code}); see ${name}.log`)),
    );
  });
}

const children: Child[] = [];
let stopping = false;
let simulator: ChildProcess | undefined;

/**
 * The ECG simulator as the demo's ECG cart: one 10-s ECG in real time into the pty link, then it
 * keeps the line up (the device stays connected in GET /api/devices) until the demo stops. Its
 * JSON progress goes to ecg-simulator.log; if it fails, the rest of the demo goes on.
 */
function startSimulator(): ChildProcess {
  mkdirSync(join(demoDir, "ecg"), { recursive: true });
  rmSync(ecgLink, { force: true }); // a link left by a demo that was killed
  const log = createWriteStream(join(demoDir, "ecg-simulator.log"), { flags: "a" });
  const child = spawn(
    process.execPath,
    [
      join(root, "scripts", "ecg-simulator.ts"),
      "--generate",
      "--link",
      ecgLink,
      "--protocol",
      "ecg-stream",
      "--linger",
      "-1",
    ],
    { cwd: root, stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  createInterface({ input: child.stderr! }).on("line", (line) => log.write(`${line}\n`));
  child.once("exit", (code) => {
    if (!stopping && code !== 0)
      process.stderr.write(
        `ECG simulator stopped (code ${code}); see ecg-simulator.log — the demo goes on\n`,
      );
  });
  return child;
}

async function stopAll(code: number): Promise<never> {
  stopping = true;
  // The cart first (it removes its pty link), then the gateway, then the reading centre.
  if (simulator && simulator.exitCode === null && simulator.signalCode === null) {
    const exited = new Promise((r) => simulator!.once("exit", r));
    simulator.kill("SIGTERM");
    await exited;
  }
  // The gateway first: it finishes what it is doing and says goodbye to the broker it uses.
  for (const child of [...children].reverse()) {
    if (child.process.exitCode !== null) continue;
    const exited = new Promise((r) => child.process.once("exit", r));
    child.process.kill("SIGTERM");
    await exited;
  }
  process.exit(code);
}

process.on("SIGINT", () => void stopAll(0));
// Last resort if this script dies some other way: do not leave the stack running.
process.on("exit", () => {
  if (simulator?.exitCode === null) simulator.kill("SIGTERM");
  for (const child of children) if (child.process.exitCode === null) child.process.kill("SIGTERM");
});
process.on("SIGTERM", () => void stopAll(0));

try {
  const rc = await start(
    "reading-centre",
    "reading-centre/main.ts",
    {
      DXGATE_RC_DEMO: "1",
      DXGATE_RC_DATA_DIR: process.env.DXGATE_RC_DATA_DIR ?? join(demoDir, "reading-centre"),
      DXGATE_RC_HTTP_HOST: "127.0.0.1",
      DXGATE_RC_MQTT_HOST: "127.0.0.1",
    },
    ["http", "mqtt"],
  );
  children.push(rc);
  const mqttPort = rc.ports.get("mqtt")!;
  const gateway = await start(
    "gateway",
    "gateway/main.ts",
    {
      DXGATE_SITE_ID: process.env.DXGATE_SITE_ID ?? "demo-site",
      DXGATE_DATA_DIR: process.env.DXGATE_DATA_DIR ?? join(demoDir, "gateway"),
      DXGATE_BROKER_URL: process.env.DXGATE_BROKER_URL ?? `mqtt://127.0.0.1:${mqttPort}`,
      DXGATE_DICOM_HOST: "127.0.0.1",
      DXGATE_HTTP_HOST: "127.0.0.1",
      DXGATE_QUIET_PERIOD_MS: process.env.DXGATE_QUIET_PERIOD_MS ?? "3000",
      ...(demoEcg ? { DXGATE_SERIAL: `${ecgLink}=generic-ecg-stream-8-lead` } : {}),
    },
    ["http", "dicom"],
    GATEWAY_NODE_FLAGS,
  );
  children.push(gateway);
  for (const child of children) {
    child.process.once("exit", (code) => {
      if (stopping) return;
      process.stderr.write(`${child.name} stopped unexpectedly (code ${code}); stopping the demo\n`);
      void stopAll(1);
    });
  }
  if (demoEcg) simulator = startSimulator();
  const rcHttp = rc.ports.get("http")!;
  const gwHttp = gateway.ports.get("http")!;
  const dicomPort = gateway.ports.get("dicom")!;
  process.stdout.write(
    [
      "",
      "dxgate demo is running (loopback only)  —  dxgate 演示已启动（仅本机）",
      "",
      `  Reading centre 阅片中心   http://127.0.0.1:${rcHttp}/api/worklist`,
      `    log in 登录:             user 用户名 demo  /  password 密码 demo`,
      `    curl -s -X POST -H 'content-type: application/json' -d '{"username":"demo","password":"demo"}' http://127.0.0.1:${rcHttp}/api/login`,
      `  MQTT broker 消息代理       mqtt://127.0.0.1:${mqttPort}`,
      `  Gateway 网关 API           http://127.0.0.1:${gwHttp}/api/studies`,
      `  Gateway DICOM 接收         AE title DXGATE, 127.0.0.1 port ${dicomPort}`,
      `    send a study 发送检查:    storescu -aec DXGATE 127.0.0.1 ${dicomPort} FILE.dcm`,
      ...(demoEcg
        ? [
            `  ECG cart 心电设备 (simulated)  ${ecgLink}  →  http://127.0.0.1:${gwHttp}/api/devices`,
            "    a 10-s 12-lead ECG is streaming now; it appears in /api/studies within ~15 s",
            "    正在传送一份 10 秒 12 导联心电图，约 15 秒后出现在 /api/studies",
            `    sheet 心电图: http://127.0.0.1:${gwHttp}/api/studies/STUDY_UID/ecg.png   (DXGATE_DEMO_ECG=0: no ECG)`,
          ]
        : []),
      "",
      `  Logs and data 日志与数据:  ${demoDir}`,
      "  Press Ctrl-C to stop 按 Ctrl-C 停止",
      "",
    ].join("\n"),
  );
} catch (error) {
  process.stderr.write(`demo failed to start: ${(error as Error).message}\n`);
  await stopAll(1);
}
