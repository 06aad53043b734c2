/** What the kernel knows about a process: resident memory (now and peak) and CPU time used. */
import { readFile } from "node:fs/promises";

export interface ProcStats {
  /** Resident set now (MiB). */
  rssMiB: number;
  /** Peak resident set since the process started (VmHWM, MiB). */
  peakRssMiB: number;
  /** User + system CPU seconds. */
  cpuSeconds: number;
}

/** USER_HZ: 100 on every Linux this runs on (arm64 and x86-64). */
const CLOCK_TICKS = 100;

export async function procStats(pid: number): Promise<ProcStats> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start at ") ": utime and stime are 14, 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMiB: kib("VmRSS") / 1024, peakRssMiB: kib("VmHWM") / 1024, cpuSeconds: ticks / CLOCK_TICKS };
}
