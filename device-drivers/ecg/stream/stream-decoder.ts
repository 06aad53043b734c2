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
 * @param settings a profile's protocolSettings (partial: defaults are filled; invalid ones throw
 *   StreamSettingsError naming the field).
 */
export function createStreamLineDecoder(
  settings: Partial<StreamProtocolSettings> = {},
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
