/** Send a corpus with DCMTK storescu in one association and time it; the receiver is sampled meanwhile. */
import { execFile } from "node:child_process";

export interface SendResult {
  seconds: number;
  /** The receiver's maximum PDU as storescu saw it ("Max Send PDV"). */
  maxSendPdv: number | undefined;
}

export function storescu(aeTitle: string, port: number, files: string[]): Promise<SendResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      "storescu",
      ["-v", "-aet", "BENCHSCU", "-aec", aeTitle, "127.0.0.1", String(port), ...files],
      // TCP_NODELAY=1: DCMTK leaves Nagle on otherwise, which caps any receiver near 20 instances/s.
      { env: { ...process.env, TCP_NODELAY: "1" }, maxBuffer: 64 * 1024 * 1024, timeout: 900_000 },
      (error, stdout, stderr) => {
        const seconds = (performance.now() - started) / 1000;
        const output = `${stdout}${stderr}`;
        if (error || /Refused|Failed|Error/i.test(output.replace(/Max Send PDV/g, ""))) {
          const problem = output
            .split("\n")
            .filter((line) => /^[EWF]:|Refused|Failed/.test(line))
            .slice(0, 5);
          reject(new Error(`storescu to ${aeTitle} failed: ${error?.message ?? ""} ${problem.join(" | ")}`));
          return;
        }
        const pdv = /Max Send PDV: (\d+)/.exec(output)?.[1];
        resolve({ seconds, maxSendPdv: pdv ? Number(pdv) : undefined });
      },
    );
  });
}
