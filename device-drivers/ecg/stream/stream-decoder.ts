/**
 * The LineDecoder for protocol "ecg-stream": frames found and verified by FrameScanner, assembled
 * into records by RecordAssembler.
 */
import type { LineDecoder, LineEvent } from "../line-decoder.ts";
import { FrameScanner } from "./frame-scanner.ts";
import { RecordAssembler } from "./record-assembler.ts";
import { resolveStreamSettings, type StreamProtocolSettings } from "./settings.ts";

export interface StreamDecoderOptions {
  /** The box's clock, stamped as the acquisition time of each record's first frame (tests pass a fixed one). */
  now?: () => Date;
}

/**
 * @param settings a profile's protocolSettings, as validated by STREAM_SETTINGS_SCHEMA or partial
 *   (defaults are filled; settings the stream cannot work with throw StreamSettingsError naming the
 *   field — including the cross-field rules the schema cannot express, so a profile loader may call
 *   resolveStreamSettings itself to refuse a bad profile early).
 */
export function createStreamLineDecoder(
  settings: Partial<StreamProtocolSettings> | Readonly<Record<string, unknown>> = {},
  options: StreamDecoderOptions = {},
): LineDecoder {
  const resolved = resolveStreamSettings(settings);
  const scanner = new FrameScanner(resolved);
  const assembler = new RecordAssembler(resolved, options.now);
  return {
    push(chunk: Uint8Array): LineEvent[] {
      const events: LineEvent[] = [];
      let announced = false;
      for (const item of scanner.push(chunk)) {
        if (item.kind !== "frame") {
          events.push(item);
          continue;
        }
        // One "receiving" per read that verified a frame: it is a state, not a frame count.
        if (!announced) {
          events.push({ kind: "receiving" });
          announced = true;
        }
        events.push(...assembler.accept(item.frame));
      }
      return events;
    },
    end(): LineEvent[] {
      return [...scanner.end(), ...assembler.end()];
    },
  };
}
