/**
 * Progress as JSON lines on stderr, one object per line with `time` and `event`, so a test or the
 * demo can wait for "ready" and read the counts. Never a patient field: counts, paths, codes.
 */
export type SimulatorLog = (event: string, fields?: Record<string, unknown>) => void;

export function jsonLineLog(out: NodeJS.WritableStream = process.stderr): SimulatorLog {
  return (event, fields = {}) => {
    out.write(`${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}\n`);
  };
}
