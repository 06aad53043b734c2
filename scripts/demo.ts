/**
 * `npm start`: the whole chain on one machine, loopback only — the reading centre with its embedded
 * MQTT broker and a demo diagnostician account, and one gateway pointed at it. Prints where
 * everything is and how to log in; Ctrl-C stops both cleanly.
 *
 * Ports and directories follow the same environment variables as the processes themselves
 * (DXGATE_DICOM_PORT, DXGATE_HTTP_PORT, DXGATE_RC_HTTP_PORT, DXGATE_RC_MQTT_PORT, …), so several
 * demo stacks can run side by side; DXGATE_DEMO_DIR moves all their data (default ./demo-data).
 *
 * Security as in a real county, only self-provisioned: the demo makes its county CA and the broker's
 * certificate for localhost/127.0.0.1 (once, in <reading-centre data>/pki), registers its box with the
 * same `add-box` command a county admin runs (fresh credentials each start), and the gateway connects
 * over TLS (mqtts, the CA verified) with the box's password and client certificate and signs its
 * manifests and commits. Anonymous clients get nothing from the demo's broker either.
 *
 * An ECG goes through too: the ECG simulator streams one synthetic 12-lead ECG (as an 8-lead
 * acquisition module) into a pseudo-terminal linked at <demo dir>/ecg/tty-ecg, which the gateway
 * reads as a serial ECG device (DXGATE_SERIAL). DXGATE_DEMO_ECG=0 leaves it out.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { GATEWAY_NODE_FLAGS } from "../gateway/node-flags.ts";
import { initCa, issueServer, pkiPaths } from "../reading-centre/boxes/county-ca.ts";
import { parseEnvFile } from "../reading-centre/boxes/provision.ts";

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

/** The county's CA and the broker's certificate for loopback, made once (kept across demo runs). */
async function countyPki(rcDataDir: string, countyId: string): Promise<ReturnType<typeof pkiPaths>> {
  const dir = join(rcDataDir, "pki");
  await initCa(dir, countyId);
  const paths = pkiPaths(dir);
  if (!existsSync(paths.serverCert) || !existsSync(paths.serverKey)) {
    await issueServer(dir, countyId, ["localhost", "127.0.0.1"]);
  }
  return paths;
}

/** `reading-centre/main.ts add-box SITE`, as a county admin runs it; the box's environment from its box.env. */
async function addBox(
  rcEnv: Record<string, string>,
  siteId: string,
  brokerUrl: string,
): Promise<Record<string, string>> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(root, "reading-centre", "main.ts"), "add-box", siteId, "--broker-url", brokerUrl],
    { cwd: root, env: { ...process.env, ...rcEnv, DXGATE_LOG_LEVEL: "warn" } },
  );
  const printed = JSON.parse(stdout.trim().split("\n").at(-1)!) as { env: string };
  return parseEnvFile(readFileSync(printed.env, "utf8"));
}

try {
  const rcDataDir = resolve(process.env.DXGATE_RC_DATA_DIR ?? join(demoDir, "reading-centre"));
  const countyId = process.env.DXGATE_RC_COUNTY_ID ?? "county";
  const siteId = process.env.DXGATE_SITE_ID ?? "demo-site";
  const pki = await countyPki(rcDataDir, countyId);
  // The service and add-box read the same county configuration.
  const rcEnv = {
    DXGATE_RC_DEMO: "1",
    DXGATE_RC_DATA_DIR: rcDataDir,
    DXGATE_RC_COUNTY_ID: countyId,
    DXGATE_RC_HTTP_HOST: "127.0.0.1",
    DXGATE_RC_MQTT_HOST: "127.0.0.1",
    DXGATE_RC_MQTT_TLS_HOST: "127.0.0.1",
    DXGATE_RC_MQTT_TLS_CERT: pki.serverCert,
    DXGATE_RC_MQTT_TLS_KEY: pki.serverKey,
    DXGATE_RC_MQTT_TLS_CA: pki.caCert,
  };
  const rc = await start("reading-centre", "reading-centre/main.ts", rcEnv, ["http", "mqtt", "mqtts"]);
  children.push(rc);
  const mqttsPort = rc.ports.get("mqtts")!;
  const box = await addBox(rcEnv, siteId, `mqtts://127.0.0.1:${mqttsPort}`);
  const gateway = await start(
    "gateway",
    "gateway/main.ts",
    {
      ...box,
      DXGATE_DATA_DIR: process.env.DXGATE_DATA_DIR ?? join(demoDir, "gateway"),
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
      `  MQTT broker 消息代理       mqtts://127.0.0.1:${mqttsPort}  (county CA 县级 CA: ${pki.caCert})`,
      `    box 网关设备 ${siteId}:       credentials 凭据 ${join(rcDataDir, "box-credentials", siteId, "box.env")}`,
      "    anonymous clients are refused 匿名连接一律拒绝",
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
