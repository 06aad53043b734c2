/** Small helpers the benchmark scripts share for numbers, tables and BENCHMARKS.md sections. */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { promisify } from "node:util";

const run = promisify(execFile);

export function median(values: number[]): number {
  return percentile(values, 0.5);
}

/** Nearest-rank percentile (`q` in 0…1) of `values`; NaN when empty. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  if (q === 0.5 && sorted.length % 2 === 0) {
    const mid = sorted.length / 2;
    return (sorted[mid - 1]! + sorted[mid]!) / 2;
  }
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return "–";
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** The first non-empty output line of a command (stdout or stderr), or why it could not run. */
export async function firstLine(command: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, args);
    return (`${stdout}${stderr}`.split("\n").find((line) => line.trim()) ?? "").trim();
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string; message: string };
    const line = `${output.stdout ?? ""}${output.stderr ?? ""}`.split("\n").find((l) => l.trim());
    return (line ?? `unavailable (${output.message.split("\n")[0]})`).trim();
  }
}

/** Replace what lies between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in the file at `path`. */
export async function replaceSection(path: string, name: string, content: string): Promise<void> {
  const text = await readFile(path, "utf8");
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${path} has no ${begin} … ${end} section`);
  await writeFile(path, `${text.slice(0, from + begin.length)}\n${content}${text.slice(to)}`);
}
