/**
 * ECG simulator: plays an ECG (a WFDB / DICOM / SCP-ECG / XML file, or a generated one) into a
 * serial line as an ECG cart (SCP-ECG records) or an acquisition module (ecg-stream frames) would,
 * with optional noise, drops, split writes and cable pulls. `--help` lists everything.
 *
 *   npx node scripts/ecg-simulator.ts --generate --link /tmp/ttyECG --speed 10
 *
 * The logic lives in scripts/ecg-simulator/; this file only wires the command line, the log and
 * the signals.
 */
import { jsonLineLog } from "./ecg-simulator/log.ts";
import { HELP_TEXT, parseSimulatorArgs, type SimulatorOptions, UsageError } from "./ecg-simulator/options.ts";
import { runSimulator } from "./ecg-simulator/run.ts";

const log = jsonLineLog();

let options: SimulatorOptions;
try {
  options = parseSimulatorArgs(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`ecg-simulator: ${error.message}\n`);
  process.exit(2);
}

if (options.help) {
  process.stdout.write(HELP_TEXT);
  process.exit(0);
}
if (options.printSettings) {
  process.stdout.write(`${JSON.stringify(options.stream, null, 2)}\n`);
  process.exit(0);
}

const stop = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log("stopping", { signal });
    stop.abort();
    // A line that cannot even be closed must not keep the simulator alive.
    setTimeout(() => process.exit(1), 5000).unref();
  });
}

try {
  const summary = await runSimulator(options, log, stop.signal);
  log(summary.stopped ? "stopped" : "exit", { ...summary });
  process.exitCode = 0;
} catch (error) {
  const code = (error as { code?: string }).code ?? "ECG_SIM_FAILED";
  log("error", { code, message: error instanceof Error ? error.message : String(error) });
  process.exitCode = code === "ECG_SIM_USAGE" ? 2 : 1;
}
