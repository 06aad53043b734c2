/**
 * The command set of the responses we send, encoded directly (PS3.7 6.3.1 and E.1: Implicit VR
 * Little Endian, elements in ascending tag order, led by the Command Group Length). dcmjs-dimse
 * encodes each one through dcmjs, which allocates two zero-filled 256 KiB buffers per response:
 * for a small instance that is as much garbage as a tenth of the instance itself. Only the elements
 * listed here are encoded; a command holding any other element (or a value of another type) is
 * left to dcmjs-dimse. command-encoder.test.ts checks the bytes equal dcmjs-dimse's own.
 */
import type dimse from "dcmjs-dimse";

type Vr = "UI" | "US" | "LO";

/** PS3.7 E.1: the command elements of the C-STORE/C-ECHO responses, by dcmjs keyword. */
const ELEMENTS: Record<string, { tag: number; vr: Vr }> = {
  AffectedSOPClassUID: { tag: 0x0002, vr: "UI" },
  CommandField: { tag: 0x0100, vr: "US" },
  MessageIDBeingRespondedTo: { tag: 0x0120, vr: "US" },
  CommandDataSetType: { tag: 0x0800, vr: "US" },
  Status: { tag: 0x0900, vr: "US" },
  ErrorComment: { tag: 0x0902, vr: "LO" },
  AffectedSOPInstanceUID: { tag: 0x1000, vr: "UI" },
};

/** The encoded command set, or undefined when it holds something this encoder does not handle. */
export function encodeCommandSet(elements: Record<string, unknown>): Buffer | undefined {
  const encoded: Array<{ tag: number; value: Buffer }> = [];
  for (const [keyword, value] of Object.entries(elements)) {
    if (value === undefined) continue; // dcmjs writes no element for it (an unset ErrorComment)
    const element = ELEMENTS[keyword];
    if (!element) return undefined;
    if (element.vr === "US") {
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffff)
        return undefined;
      const bytes = Buffer.alloc(2);
      bytes.writeUInt16LE(value);
      encoded.push({ tag: element.tag, value: bytes });
    } else {
      // PS3.5 6.2: UI padded with NUL, LO with a space, to an even length; ASCII only here.
      if (typeof value !== "string" || value === "" || !/^[\x20-\x7e]*$/.test(value)) return undefined;
      const padded = value.length % 2 ? value + (element.vr === "UI" ? "\0" : " ") : value;
      encoded.push({ tag: element.tag, value: Buffer.from(padded, "latin1") });
    }
  }
  encoded.sort((a, b) => a.tag - b.tag);
  const groupLength = encoded.reduce((sum, e) => sum + 8 + e.value.length, 0);
  const out = Buffer.alloc(12 + groupLength);
  out.writeUInt32LE(0x00000000, 0); // (0000,0000) Command Group Length, UL
  out.writeUInt32LE(4, 4);
  out.writeUInt32LE(groupLength, 8);
  let at = 12;
  for (const { tag, value } of encoded) {
    out.writeUInt16LE(0x0000, at);
    out.writeUInt16LE(tag, at + 2);
    out.writeUInt32LE(value.length, at + 4);
    value.copy(out, at + 8);
    at += 8 + value.length;
  }
  return out;
}

/** Make dcmjs-dimse send this response's command set through `encodeCommandSet` when it can. */
export function encodeCommandDirectly(response: {
  getCommandDataset(): InstanceType<typeof dimse.Dataset>;
}): void {
  const dataset = response.getCommandDataset();
  const viaDcmjs = dataset.getDenaturalizedCommandDataset.bind(dataset);
  dataset.getDenaturalizedCommandDataset = (writeOptions?: Record<string, unknown>) =>
    (writeOptions ? undefined : encodeCommandSet(dataset.getElements())) ?? viaDcmjs(writeOptions);
}
