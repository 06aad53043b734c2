/**
 * The ECG the simulator plays: a file, read by the decoder its extension names, or a generated one.
 * Decoders are imported when needed, so playing a WFDB record does not load dcmjs.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import type { EcgRecord } from "../../device-drivers/ecg/ecg-record.ts";
import { generateSyntheticEcg } from "../../device-drivers/ecg/stream/index.ts";
import { readWfdbRecord } from "../../device-drivers/ecg/wfdb/index.ts";
import { type SimulatorOptions, UsageError } from "./options.ts";

export type SourceKind = "wfdb" | "dicom" | "scp-ecg" | "xml" | "generated";

export interface SimulatorSource {
  kind: SourceKind;
  record: EcgRecord;
  /** The file's own bytes, for an SCP-ECG source (sent unchanged when a whole record is played). */
  raw?: Uint8Array;
}

export async function loadSource(options: SimulatorOptions): Promise<SimulatorSource> {
  const path = options.sourcePath;
  if (path === undefined) {
    const { heartRateBpm, seconds, signalNoiseMicrovolts, patientId } = options.generate;
    const record = generateSyntheticEcg({
      heartRateBpm,
      seconds,
      samplingFrequencyHz: options.stream.samplingFrequencyHz,
      nanovoltsPerUnit: options.stream.nanovoltsPerUnit,
      noiseMicrovolts: signalNoiseMicrovolts,
      seed: options.seed,
      patient: patientId === undefined ? {} : { id: patientId },
    });
    return { kind: "generated", record };
  }
  switch (extname(path).toLowerCase()) {
    case ".hea":
      return { kind: "wfdb", record: await readWfdbRecord(path) };
    case ".dcm": {
      const { readDicomEcg } = await import("../../device-drivers/ecg/dicom/index.ts");
      return { kind: "dicom", record: readDicomEcg(await readFile(path)) };
    }
    case ".scp": {
      const { decodeScpEcg } = await import("../../device-drivers/ecg/scp-ecg/index.ts");
      const raw = new Uint8Array(await readFile(path));
      return { kind: "scp-ecg", record: decodeScpEcg(raw), raw };
    }
    case ".xml": {
      const { decodeEcgXml } = await import("../../device-drivers/ecg/xml/index.ts");
      return { kind: "xml", record: decodeEcgXml(await readFile(path)) };
    }
    default:
      throw new UsageError(`--source ${path}: .hea, .dcm, .scp or .xml`);
  }
}
