/** The facts a benchmark table needs to be read later: machine, versions, filesystem. */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { cpus, release, totalmem } from "node:os";
import { promisify } from "node:util";

const run = promisify(execFile);

async function firstLine(command: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, args);
    return (`${stdout}${stderr}`.split("\n").find((line) => line.trim()) ?? "").trim();
  } catch (error) {
    return `unavailable (${(error as Error).message.split("\n")[0]})`;
  }
}

export interface Machine {
  cpu: string;
  nproc: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  dcmtk: string;
  orthanc: string;
  dxgate: string;
  filesystem: string;
}

export async function describeMachine(dir: string): Promise<Machine> {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  const df = await firstLine("sh", ["-c", `df -T ${JSON.stringify(dir)} | tail -1`]);
  const [device, type] = df.split(/\s+/);
  return {
    cpu: model,
    nproc: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    dcmtk: (await firstLine("storescp", ["--version"])).replace(/^\$dcmtk:\s*|\s*\$$/g, ""),
    orthanc: await firstLine("Orthanc", ["--version"]),
    dxgate: await firstLine("git", ["describe", "--always", "--dirty"]),
    filesystem: `${type ?? "?"} on ${device ?? "?"}`,
  };
}
