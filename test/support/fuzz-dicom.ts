/**
 * The DICOM fuzzer's parts (test/dicom-fuzz.test.ts): a seeded PRNG, a byte-exact model of a valid
 * association (PS3.8 PDUs, PS3.7 command sets, a dataset from test/fixtures/make-dicom.ts), the
 * mutations applied to it, a raw-socket peer that plays one case, and a parser for what the SCP
 * answers (which C-STOREs it acknowledged). Everything a case sends depends only on (seed, case), so
 * `DXGATE_FUZZ_SEED=<seed> DXGATE_FUZZ_ONLY=<case>` replays one case exactly.
 */
import { connect } from "node:net";
import { makeDicomFile, SOP_CLASS, TRANSFER_SYNTAX } from "../fixtures/make-dicom.ts";
import { datasetOf } from "./dicom-bytes.ts";

// ---------------------------------------------------------------------------------------------
// PRNG

/** sfc32 seeded through splitmix32: fast, good enough, and the same in every Node version. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(...seeds: number[]) {
    let state = 0x9e3779b9;
    const next = () => {
      state = (state + 0x9e3779b9) | 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    for (const seed of seeds) state = (state ^ Math.imul(seed >>> 0, 0x27d4eb2d)) | 0;
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i += 1) this.u32();
  }

  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new EmptyPickError();
    return item;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i += 1) out[i] = this.u32() & 0xff;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Valid bytes: PS3.8 9.3 PDUs and PS3.7 command sets

export const AE_TITLE = "DXGATE";
const APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1";
const VERIFICATION = "1.2.840.10008.1.1";
const STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"; // rejected by the SCP (Table 4.2-2)

/** Presentation context ids we propose: Verification, two storage classes, one rejected service. */
export const PC = { echo: 1, explicit: 3, implicit: 5, rejected: 7 } as const;

/** A PDU or an item: type, a reserved byte, a big-endian length (4 bytes for PDUs, 2 for items). */
function pdu(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(6);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function item(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt8(type, 0);
  header.writeUInt16BE(body.length & 0xffff, 2);
  return Buffer.concat([header, body]);
}

const ascii = (text: string) => Buffer.from(text, "latin1");

export interface AssociateOptions {
  called?: string;
  calling?: string;
  maxLength?: number;
  /** Extra presentation contexts (a flood of them). */
  extraContexts?: number;
}

/** PS3.8 9.3.2: the A-ASSOCIATE-RQ a storescu would send. */
export function associateRq(options: AssociateOptions = {}): Buffer {
  const context = (id: number, abstract: string, transfers: string[]) =>
    item(
      0x20,
      Buffer.concat([
        Buffer.from([id, 0, 0, 0]),
        item(0x30, ascii(abstract)),
        ...transfers.map((uid) => item(0x40, ascii(uid))),
      ]),
    );
  const contexts = [
    context(PC.echo, VERIFICATION, [TRANSFER_SYNTAX.implicit]),
    context(PC.explicit, SOP_CLASS.ultrasoundImage, [TRANSFER_SYNTAX.explicit]),
    context(PC.implicit, SOP_CLASS.secondaryCapture, [TRANSFER_SYNTAX.implicit]),
    context(PC.rejected, STUDY_ROOT_FIND, [TRANSFER_SYNTAX.implicit]),
  ];
  for (let i = 0; i < (options.extraContexts ?? 0); i += 1) {
    contexts.push(context((9 + 2 * i) & 0xff, SOP_CLASS.ultrasoundImage, [TRANSFER_SYNTAX.implicit]));
  }
  const maxLength = Buffer.alloc(4);
  maxLength.writeUInt32BE(options.maxLength ?? 16_384);
  const userInfo = item(
    0x50,
    Buffer.concat([
      item(0x51, maxLength),
      item(0x52, ascii("1.2.826.0.1.3680043.9.9999.1")),
      item(0x55, ascii("FUZZ_1")),
    ]),
  );
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0); // protocol version
  fixed.write((options.called ?? AE_TITLE).padEnd(16).slice(0, 16), 4, "latin1");
  fixed.write((options.calling ?? "FUZZER").padEnd(16).slice(0, 16), 20, "latin1");
  return pdu(0x01, Buffer.concat([fixed, item(0x10, ascii(APPLICATION_CONTEXT)), ...contexts, userInfo]));
}

/** Offsets (in the PDU) of every item header of an A-ASSOCIATE-RQ, nested ones included. */
export function associateItemOffsets(rq: Buffer): number[] {
  const offsets: number[] = [];
  const walk = (start: number, end: number) => {
    let at = start;
    while (at + 4 <= end) {
      const type = rq[at] ?? 0;
      const length = rq.readUInt16BE(at + 2);
      offsets.push(at);
      if (type === 0x20) walk(at + 8, at + 4 + length);
      if (type === 0x50) walk(at + 4, at + 4 + length);
      at += 4 + length;
    }
  };
  walk(6 + 68, rq.length);
  return offsets;
}

export const RELEASE_RQ = pdu(0x05, Buffer.alloc(4));
export const abortPdu = (source = 0, reason = 0) => pdu(0x07, Buffer.from([0, 0, source, reason]));

/** Implicit VR little endian elements of group 0000; UI values padded with NUL to even length. */
interface CommandElement {
  element: number;
  value: Buffer;
}

const us = (value: number) => {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16LE(value & 0xffff);
  return bytes;
};
const ui = (uid: string) => (uid.length % 2 ? Buffer.concat([ascii(uid), Buffer.from([0])]) : ascii(uid));

export function encodeCommand(elements: CommandElement[], groupLength?: number): Buffer {
  const body = Buffer.concat(
    elements.map(({ element, value }) => {
      const header = Buffer.alloc(8);
      header.writeUInt16LE(0x0000, 0);
      header.writeUInt16LE(element, 2);
      header.writeUInt32LE(value.length, 4);
      return Buffer.concat([header, value]);
    }),
  );
  const length = Buffer.alloc(12);
  length.writeUInt32LE(0x0000_0000, 0); // (0000,0000)
  length.writeUInt32LE(4, 4);
  length.writeUInt32LE(groupLength ?? body.length, 8);
  return Buffer.concat([length, body]);
}

export function cStoreRqElements(messageId: number, sopClassUid: string, sopInstanceUid: string) {
  return [
    { element: 0x0002, value: ui(sopClassUid) },
    { element: 0x0100, value: us(0x0001) },
    { element: 0x0110, value: us(messageId) },
    { element: 0x0700, value: us(0x0000) },
    { element: 0x0800, value: us(0x0000) },
    { element: 0x1000, value: ui(sopInstanceUid) },
  ];
}

export function cEchoRqElements(messageId: number) {
  return [
    { element: 0x0002, value: ui(VERIFICATION) },
    { element: 0x0100, value: us(0x0030) },
    { element: 0x0110, value: us(messageId) },
    { element: 0x0800, value: us(0x0101) },
  ];
}

export interface Pdv {
  contextId: number;
  /** PS3.8 E.2: bit 0 command (1) or dataset (0), bit 1 last fragment. */
  control: number;
  data: Buffer;
}

export function pDataTf(pdvs: Pdv[]): Buffer {
  return pdu(
    0x04,
    Buffer.concat(
      pdvs.map(({ contextId, control, data }) => {
        const header = Buffer.alloc(6);
        header.writeUInt32BE(data.length + 2, 0);
        header.writeUInt8(contextId, 4);
        header.writeUInt8(control, 5);
        return Buffer.concat([header, data]);
      }),
    ),
  );
}

/** Split `bytes` into PDVs of at most `size` bytes; the last one carries the "last" bit. */
export function fragment(contextId: number, command: boolean, bytes: Buffer, size: number): Pdv[] {
  const pdvs: Pdv[] = [];
  for (let at = 0; at < bytes.length || pdvs.length === 0; at += size) {
    const last = at + size >= bytes.length;
    pdvs.push({
      contextId,
      control: (command ? 1 : 0) | (last ? 2 : 0),
      data: bytes.subarray(at, Math.min(bytes.length, at + size)),
    });
  }
  return pdvs;
}

// ---------------------------------------------------------------------------------------------
// Datasets: fixed-length UIDs, so a case's bytes (and the offsets mutations pick) are reproducible

/** A UID of a fixed length (25 characters) from three numbers; never starts a component with 0. */
export function fuzzUid(seed: number, caseIndex: number, slot: number): string {
  return `2.25.1${String(seed >>> 0).padStart(10, "0")}${String(caseIndex % 1e8).padStart(8, "0")}${slot % 10}`;
}

export interface DatasetTemplate {
  transferSyntax: "explicit" | "implicit";
  sopClassUid: string;
  contextId: number;
  bytes: Buffer;
  /** Where the SOP Instance UID's 25 characters are, to stamp a case's own UID in. */
  sopUidOffset: number;
}

/**
 * The dataset (no file meta) of a fixture file with the given study/series and a placeholder SOP
 * Instance UID. The fixture gives its referenced-study sequence item a random `2.25` UID: retry until
 * it has the common length, then overwrite its digits, so the bytes are the same in every run.
 */
export function datasetTemplate(
  transferSyntax: "explicit" | "implicit",
  studyUid: string,
  seriesUid: string,
  large: boolean,
): DatasetTemplate {
  const placeholder = fuzzUid(0, 0, 0);
  const sopClassUid = transferSyntax === "explicit" ? SOP_CLASS.ultrasoundImage : SOP_CLASS.secondaryCapture;
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const file = makeDicomFile({
      transferSyntax,
      sopClassUid,
      studyInstanceUid: studyUid,
      seriesInstanceUid: seriesUid,
      sopInstanceUid: placeholder,
      patientName: "Fuzz^Case",
      patientId: "FUZZ-1",
      ...(large ? { rows: 96, columns: 96, bitsAllocated: 16 as const } : {}),
    });
    const bytes = Buffer.from(datasetOf(file.bytes));
    const text = bytes.toString("latin1");
    let fixed = true;
    for (const match of text.matchAll(/2\.25\.\d+/g)) {
      const uid = match[0];
      if (uid === studyUid || uid === seriesUid || uid === placeholder) continue;
      if (uid.length !== 44) {
        fixed = false;
        break;
      }
      bytes.write(`2.25.${"7".repeat(39)}`, match.index, "latin1");
    }
    if (!fixed) continue;
    const sopUidOffset = bytes.indexOf(placeholder, 0, "latin1");
    if (sopUidOffset < 0) throw new Error("placeholder SOP Instance UID not found");
    return {
      transferSyntax,
      sopClassUid,
      contextId: transferSyntax === "explicit" ? PC.explicit : PC.implicit,
      bytes,
      sopUidOffset,
    };
  }
  throw new Error("could not build a reproducible dataset template");
}

export function datasetFor(template: DatasetTemplate, sopInstanceUid: string): Buffer {
  const bytes = Buffer.from(template.bytes);
  bytes.write(sopInstanceUid, template.sopUidOffset, "latin1");
  return bytes;
}

export interface DatasetElement {
  offset: number;
  tag: number;
  /** Where the length field is and how wide (2 or 4 bytes). */
  lengthOffset: number;
  lengthSize: 2 | 4;
  /** Explicit VR only: where the two VR characters are. */
  vrOffset?: number;
  valueOffset: number;
  valueLength: number;
}

const LONG_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]);

/** The top-level elements of a little endian dataset (sequences of undefined length skipped whole). */
export function datasetElements(bytes: Buffer, explicit: boolean): DatasetElement[] {
  const elements: DatasetElement[] = [];
  let at = 0;
  while (at + 8 <= bytes.length) {
    const tag = ((bytes.readUInt16LE(at) << 16) | bytes.readUInt16LE(at + 2)) >>> 0;
    let lengthOffset = at + 4;
    let lengthSize: 2 | 4 = 4;
    let vrOffset: number | undefined;
    if (explicit) {
      vrOffset = at + 4;
      const vr = bytes.toString("latin1", at + 4, at + 6);
      if (LONG_VRS.has(vr)) lengthOffset = at + 8;
      else {
        lengthOffset = at + 6;
        lengthSize = 2;
      }
    }
    const valueOffset = lengthOffset + lengthSize;
    if (valueOffset > bytes.length) break;
    let valueLength = lengthSize === 2 ? bytes.readUInt16LE(lengthOffset) : bytes.readUInt32LE(lengthOffset);
    let next = valueOffset + valueLength;
    if (valueLength === 0xffff_ffff) {
      const delimiter = bytes.indexOf(Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]), valueOffset);
      next = delimiter < 0 ? bytes.length : delimiter + 8;
      valueLength = next - valueOffset;
    }
    elements.push({
      offset: at,
      tag,
      lengthOffset,
      lengthSize,
      ...(vrOffset === undefined ? {} : { vrOffset }),
      valueOffset,
      valueLength,
    });
    at = next;
  }
  return elements;
}

// ---------------------------------------------------------------------------------------------
// A case: what is sent, and the mutations applied

/** One write; `waitBefore`: first wait (bounded) for the SCP's answer to what was sent before. */
export interface Chunk {
  bytes: Buffer;
  waitBefore: boolean;
}

export interface FuzzCase {
  index: number;
  /** Human-readable list of the mutations, for the reproducer. */
  mutations: string[];
  chunks: Chunk[];
  /** SOP Instance UIDs this case may legitimately get acknowledged. */
  uids: string[];
  /** No mutation at all: every C-STORE must be acknowledged and stored byte for byte. */
  valid: boolean;
  /** The datasets of a valid case, by SOP Instance UID. */
  datasets: Map<string, Buffer>;
}

interface Message {
  kind: "echo" | "store";
  command: Buffer;
  commandContext: number;
  dataset?: Buffer;
  datasetContext: number;
  uid?: string;
}

const INTERESTING_U32 = [
  0,
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8,
  0x7f,
  0x80,
  0xff,
  0x100,
  0xffff,
  0x1_0000,
  0x4_0000,
  0x4_0000 + 1024,
  0x4_0000 + 1025,
  0x10_0000,
  0x10_0001,
  0x7fff_ffff,
  0x8000_0000,
  0xffff_fffe,
  0xffff_ffff,
];
const INTERESTING_BYTES = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x7f, 0x80, 0xfe, 0xff];
const VRS = [
  "AE",
  "AS",
  "CS",
  "DA",
  "DS",
  "FD",
  "IS",
  "LO",
  "OB",
  "OW",
  "PN",
  "SQ",
  "UI",
  "UL",
  "UN",
  "US",
  "UT",
];

function lengthLie(rng: Prng, actual: number): number {
  switch (rng.int(4)) {
    case 0:
      return rng.pick(INTERESTING_U32);
    case 1:
      return Math.max(0, actual + rng.range(-8, 8));
    case 2:
      return rng.u32();
    default:
      return actual === 0 ? 1 : rng.int(actual);
  }
}

/**
 * Build case `index` of run `seed`: a valid association (optional C-ECHO, 1–3 C-STOREs, release),
 * then 0–3 mutations at one of three levels: the messages (command set, dataset, PDVs), the PDU
 * sequence, or the raw bytes.
 */
export function buildCase(
  seed: number,
  index: number,
  templates: readonly DatasetTemplate[],
  validEvery: number,
): FuzzCase {
  const rng = new Prng(seed, index);
  const mutations: string[] = [];
  const uids: string[] = [];
  const datasets = new Map<string, Buffer>();
  const valid = index % validEvery === 0;

  // --- messages
  const messages: Message[] = [];
  if (rng.chance(0.3)) {
    messages.push({
      kind: "echo",
      command: encodeCommand(cEchoRqElements(1)),
      commandContext: PC.echo,
      datasetContext: PC.echo,
    });
  }
  const stores = rng.range(1, 3);
  for (let k = 0; k < stores; k += 1) {
    const template = rng.pick(templates);
    const uid = fuzzUid(seed, index, k + 1);
    uids.push(uid);
    const dataset = datasetFor(template, uid);
    datasets.set(uid, dataset);
    messages.push({
      kind: "store",
      command: encodeCommand(cStoreRqElements(k + 2, template.sopClassUid, uid)),
      commandContext: template.contextId,
      dataset,
      datasetContext: template.contextId,
      uid,
    });
  }

  const assoc: AssociateOptions = {};
  const level = valid ? -1 : rng.int(10);
  const store = messages.find((message) => message.kind === "store");

  // Message-level mutations (before framing, so they reach the DIMSE and dataset parsers).
  if (level === 0 || level === 1) {
    const count = rng.range(1, 2);
    for (let n = 0; n < count; n += 1) {
      // A mutation can leave nothing for the next one to pick from (a command cut to nothing): then
      // that next mutation is skipped, deterministically (seed 668373468).
      try {
        if (level === 0) mutateCommand(rng, rng.pick(messages), store, mutations);
        else if (store?.dataset) mutateDataset(rng, store, templates, mutations);
      } catch (error) {
        if (!(error instanceof EmptyPickError)) throw error;
        mutations.push("message: nothing left to mutate");
      }
    }
  }
  if (level === 2) mutateAssociation(rng, assoc, mutations);

  // --- framing: PDVs into P-DATA-TF PDUs
  interface Unit {
    bytes: Buffer;
    waitBefore: boolean;
    label: string;
  }
  let associate = associateRq(assoc);
  if (level === 3) associate = mutateAssociateItems(rng, associate, mutations);
  const units: Unit[] = [{ bytes: associate, waitBefore: false, label: "A-ASSOCIATE-RQ" }];
  const maxPdv = rng.pick([64, 1000, 4096, 16_000, 65_536, 262_100]);
  let pdvMutation = level === 4 ? rng.range(1, 2) : 0;
  for (const [m, message] of messages.entries()) {
    let pdvs = fragment(message.commandContext, true, message.command, rng.chance(0.2) ? 7 : maxPdv);
    if (message.dataset) {
      pdvs = pdvs.concat(fragment(message.datasetContext, false, message.dataset, maxPdv));
    }
    if (pdvMutation > 0 && (rng.chance(0.5) || m === messages.length - 1)) {
      pdvMutation -= 1;
      pdvs = mutatePdvs(rng, pdvs, mutations);
    }
    // Several PDVs per PDU sometimes, one per PDU otherwise.
    const perPdu = rng.chance(0.5) ? 1 : rng.range(2, 4);
    for (let at = 0; at < pdvs.length; at += perPdu) {
      const bytes = pDataTf(pdvs.slice(at, at + perPdu));
      units.push({ bytes, waitBefore: at === 0, label: `P-DATA-TF msg${m}` });
    }
  }
  units.push({ bytes: RELEASE_RQ, waitBefore: true, label: "A-RELEASE-RQ" });

  // PDU-sequence mutations.
  if (level === 5) {
    const count = rng.range(1, 2);
    for (let n = 0; n < count; n += 1) mutateSequence(rng, units, mutations);
  }

  // Byte-level mutations on the framed PDUs.
  if (level >= 6) {
    const count = rng.chance(0.7) ? 1 : rng.range(2, 3);
    for (let n = 0; n < count; n += 1) mutateBytes(rng, units, mutations);
  }

  // TCP segmentation: split some writes (valid cases too; it must not matter).
  const chunks: Chunk[] = [];
  for (const unit of units) {
    if (unit.bytes.length > 8 && rng.chance(0.15)) {
      const cut = rng.range(1, unit.bytes.length - 1);
      chunks.push({ bytes: unit.bytes.subarray(0, cut), waitBefore: unit.waitBefore });
      chunks.push({ bytes: unit.bytes.subarray(cut), waitBefore: false });
    } else chunks.push({ bytes: unit.bytes, waitBefore: unit.waitBefore });
  }
  if (!valid && mutations.length === 0) mutations.push("none (mutation did not apply)");
  return { index, mutations, chunks, uids, valid: valid && mutations.length === 0, datasets };
}

function mutateCommand(rng: Prng, message: Message, store: Message | undefined, log: string[]): void {
  const command = Buffer.from(message.command);
  // Element offsets of the implicit VR command set.
  const offsets: number[] = [];
  for (let at = 0; at + 8 <= command.length; at += 8 + command.readUInt32LE(at + 4)) offsets.push(at);
  const what = rng.int(9);
  if (what === 0) {
    const value = lengthLie(rng, command.readUInt32LE(8));
    command.writeUInt32LE(value >>> 0, 8);
    log.push(`${message.kind} command: group length (0000,0000) = 0x${value.toString(16)}`);
  } else if (what === 1) {
    const at = rng.pick(offsets);
    const value = lengthLie(rng, command.readUInt32LE(at + 4));
    command.writeUInt32LE(value >>> 0, at + 4);
    log.push(
      `${message.kind} command: element (0000,${hex4(command.readUInt16LE(at + 2))}) length = 0x${value.toString(16)}`,
    );
  } else if (what === 2) {
    const field = rng.pick([
      0x0001,
      0x0010,
      0x0020,
      0x0021,
      0x0030,
      0x0100,
      0x0110,
      0x0120,
      0x0130,
      0x0140,
      0x0150,
      0x0fff,
      0x8001,
      0x8030,
      0xffff,
      rng.int(0x10000),
    ]);
    replaceUs(command, offsets, 0x0100, field);
    log.push(`${message.kind} command: command field = 0x${hex4(field)}`);
  } else if (what === 3) {
    const type = rng.pick([0x0101, 0x0000, 0x0001, 0xfffe]);
    replaceUs(command, offsets, 0x0800, type);
    log.push(`${message.kind} command: data set type = 0x${hex4(type)}`);
  } else if (what === 4) {
    // Drop one element (keeping the group length right), e.g. no Affected SOP Instance UID.
    const body = offsets.filter((at) => at !== 0);
    const drop = rng.pick(body);
    const element = command.readUInt16LE(drop + 2);
    const kept = Buffer.concat([
      command.subarray(12, drop),
      command.subarray(drop + 8 + command.readUInt32LE(drop + 4)),
    ]);
    const rebuilt = Buffer.concat([command.subarray(0, 12), kept]);
    rebuilt.writeUInt32LE(kept.length, 8);
    message.command = rebuilt;
    log.push(`${message.kind} command: element (0000,${hex4(element)}) removed`);
    return;
  } else if (what === 5 && store?.uid && message === store) {
    // The command names another instance than the dataset: must be refused, never stored as either.
    const at = offsets.find((o) => command.readUInt16LE(o + 2) === 0x1000);
    if (at !== undefined) command.write("9", at + 8 + 10, "latin1");
    log.push("store command: Affected SOP Instance UID differs from the dataset's");
  } else if (what === 6) {
    // Wrong group number on an element, or an element out of order.
    const at = rng.pick(offsets);
    command.writeUInt16LE(rng.pick([0x0002, 0x0008, 0xfffe, 0x7fe0]), at);
    log.push(`${message.kind} command: element at ${at} moved to another group`);
  } else if (what === 7) {
    const cut = rng.range(0, command.length - 1);
    message.command = command.subarray(0, cut);
    log.push(`${message.kind} command: truncated to ${cut} bytes`);
    return;
  } else {
    const flips = rng.range(1, 4);
    for (let n = 0; n < flips; n += 1) {
      const at = rng.int(command.length);
      command[at] = (command[at] ?? 0) ^ (1 << rng.int(8));
    }
    log.push(`${message.kind} command: ${flips} bit flips (rng-chosen)`);
  }
  message.command = command;
}

function replaceUs(command: Buffer, offsets: number[], element: number, value: number): void {
  const at = offsets.find((o) => command.readUInt16LE(o + 2) === element);
  if (at !== undefined && command.readUInt32LE(at + 4) === 2) command.writeUInt16LE(value & 0xffff, at + 8);
}

/** `Prng.pick` on an empty list: a mutation found nothing to work on. */
export class EmptyPickError extends Error {
  constructor() {
    super("pick from an empty list");
    this.name = "EmptyPickError";
  }
}

function mutateDataset(
  rng: Prng,
  store: Message,
  templates: readonly DatasetTemplate[],
  log: string[],
): void {
  const dataset = Buffer.from(store.dataset ?? Buffer.alloc(0));
  const explicit = store.datasetContext === PC.explicit;
  const elements = datasetElements(dataset, explicit);
  if (elements.length === 0) {
    // Seed 826346687: a dataset with no element the walker can frame; nothing to mutate here.
    log.push("dataset: no element to mutate");
    return;
  }
  const element = rng.pick(elements);
  const tag = `(${hex4(element.tag >>> 16)},${hex4(element.tag & 0xffff)})`;
  const what = rng.int(9);
  if (what === 0) {
    const max = element.lengthSize === 2 ? 0xffff : 0xffff_ffff;
    const value = lengthLie(rng, element.valueLength) % (max + 1);
    if (element.lengthSize === 2) dataset.writeUInt16LE(value, element.lengthOffset);
    else dataset.writeUInt32LE(value >>> 0, element.lengthOffset);
    log.push(`dataset ${tag}: length = 0x${value.toString(16)}`);
  } else if (what === 1 && element.vrOffset !== undefined) {
    const vr = rng.chance(0.7) ? rng.pick(VRS) : rng.bytes(2).toString("latin1");
    dataset.write(vr, element.vrOffset, "latin1");
    log.push(`dataset ${tag}: VR = ${JSON.stringify(vr)}`);
  } else if (what === 2) {
    if (element.lengthSize === 4) dataset.writeUInt32LE(0xffff_ffff, element.lengthOffset);
    else dataset.writeUInt16LE(0xffff, element.lengthOffset);
    log.push(`dataset ${tag}: undefined length`);
  } else if (what === 3) {
    const cut = rng.chance(0.5)
      ? element.offset + rng.int(element.valueOffset - element.offset)
      : rng.int(dataset.length);
    store.dataset = dataset.subarray(0, cut);
    log.push(`dataset truncated to ${cut} of ${dataset.length} bytes`);
    return;
  } else if (what === 4) {
    const garbage = rng.bytes(rng.range(1, 64));
    store.dataset = Buffer.concat([dataset, garbage]);
    log.push(`dataset: ${garbage.length} garbage bytes appended`);
    return;
  } else if (what === 5) {
    // The dataset in the other transfer syntax than the context's.
    const other = templates.find((t) => t.contextId !== store.datasetContext);
    if (other && store.uid) {
      store.dataset = datasetFor(other, store.uid);
      log.push("dataset encoded in the other transfer syntax than its presentation context's");
      return;
    }
  } else if (what === 6) {
    // Tag order broken: swap the tags of two elements.
    const other = rng.pick(elements);
    dataset.writeUInt32LE(element.tag === other.tag ? 0xfffee000 : other.tag, element.offset);
    log.push(`dataset ${tag}: tag rewritten (order/duplicate)`);
  } else if (what === 7) {
    const flips = rng.range(1, 8);
    for (let n = 0; n < flips; n += 1) {
      const at = rng.int(dataset.length);
      dataset[at] = (dataset[at] ?? 0) ^ (1 << rng.int(8));
    }
    log.push(`dataset: ${flips} bit flips (rng-chosen)`);
  } else {
    const at = rng.int(dataset.length);
    const value = rng.pick(INTERESTING_BYTES);
    dataset[at] = value;
    log.push(`dataset: byte ${at} = 0x${value.toString(16)}`);
  }
  store.dataset = dataset;
}

function mutateAssociation(rng: Prng, options: AssociateOptions, log: string[]): void {
  const what = rng.int(4);
  if (what === 0) {
    options.called = rng.pick(["dxgate", "", "OTHER", "DXGATE\u0000\u0000", "\u00ff\u00fe"]);
    log.push(`A-ASSOCIATE-RQ: called AE ${JSON.stringify(options.called)}`);
  } else if (what === 1) {
    options.calling = rng.bytes(16).toString("latin1");
    log.push("A-ASSOCIATE-RQ: calling AE random bytes");
  } else if (what === 2) {
    options.maxLength = rng.pick([0, 1, 6, 7, 8, 12, 100, 0xffff_ffff]);
    log.push(`A-ASSOCIATE-RQ: maximum length ${options.maxLength}`);
  } else {
    options.extraContexts = rng.pick([124, 200, 300]);
    log.push(`A-ASSOCIATE-RQ: ${options.extraContexts} extra presentation contexts`);
  }
}

function mutateAssociateItems(rng: Prng, rq: Buffer, log: string[]): Buffer {
  const bytes = Buffer.from(rq);
  const offsets = associateItemOffsets(bytes);
  const at = rng.pick(offsets);
  const type = bytes[at] ?? 0;
  const what = rng.int(4);
  if (what === 0) {
    const value = lengthLie(rng, bytes.readUInt16BE(at + 2)) & 0xffff;
    bytes.writeUInt16BE(value, at + 2);
    log.push(`A-ASSOCIATE-RQ: item 0x${type.toString(16)} at ${at} length = 0x${value.toString(16)}`);
  } else if (what === 1) {
    const value = rng.pick([
      0x00, 0x10, 0x20, 0x21, 0x30, 0x40, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0xff,
    ]);
    bytes[at] = value;
    log.push(`A-ASSOCIATE-RQ: item at ${at} type 0x${type.toString(16)} -> 0x${value.toString(16)}`);
  } else if (what === 2) {
    // Drop an item (the PDU length stays right).
    const end = at + 4 + bytes.readUInt16BE(at + 2);
    const rebuilt = Buffer.concat([bytes.subarray(0, at), bytes.subarray(end)]);
    rebuilt.writeUInt32BE(rebuilt.length - 6, 2);
    log.push(`A-ASSOCIATE-RQ: item 0x${type.toString(16)} at ${at} removed`);
    return rebuilt;
  } else {
    const fixed = rng.int(68);
    bytes[6 + fixed] = rng.pick(INTERESTING_BYTES);
    log.push(`A-ASSOCIATE-RQ: fixed field byte ${fixed} = 0x${(bytes[6 + fixed] ?? 0).toString(16)}`);
  }
  return bytes;
}

function mutatePdvs(rng: Prng, pdvs: Pdv[], log: string[]): Pdv[] {
  const out = pdvs.map((p) => ({ ...p }));
  const i = rng.int(out.length);
  const pdv = out[i];
  if (!pdv) return out;
  const what = rng.int(7);
  if (what === 0) {
    pdv.contextId = rng.pick([0, 2, PC.echo, PC.explicit, PC.implicit, PC.rejected, 9, 255]);
    log.push(`PDV ${i}: presentation context id ${pdv.contextId}`);
  } else if (what === 1) {
    pdv.control = rng.pick([0, 1, 2, 3, 0x04, 0xff]);
    log.push(`PDV ${i}: control header 0x${pdv.control.toString(16)}`);
  } else if (what === 2) {
    out.splice(i, 1);
    log.push(`PDV ${i} dropped`);
  } else if (what === 3) {
    out.splice(i, 0, { ...pdv });
    log.push(`PDV ${i} duplicated`);
  } else if (what === 4 && out.length > 1) {
    const j = rng.int(out.length);
    const a = out[i];
    const b = out[j];
    if (a && b) {
      out[i] = b;
      out[j] = a;
    }
    log.push(`PDVs ${i} and ${j} swapped`);
  } else if (what === 5) {
    out.splice(i, 0, { contextId: pdv.contextId, control: pdv.control & 1, data: Buffer.alloc(0) });
    log.push(`empty PDV inserted at ${i}`);
  } else {
    // Dataset fragment sent as command or the other way round.
    pdv.control ^= 1;
    log.push(`PDV ${i}: command/dataset bit flipped`);
  }
  return out;
}

interface MutableUnit {
  bytes: Buffer;
  waitBefore: boolean;
  label: string;
}

function mutateSequence(rng: Prng, units: MutableUnit[], log: string[]): void {
  const i = rng.int(units.length);
  const unit = units[i];
  if (!unit) return;
  const what = rng.int(8);
  if (what === 0) {
    units.splice(i, 0, { ...unit, waitBefore: false });
    log.push(`PDU ${i} (${unit.label}) duplicated`);
  } else if (what === 1 && units.length > 1) {
    units.splice(i, 1);
    log.push(`PDU ${i} (${unit.label}) dropped`);
  } else if (what === 2 && i + 1 < units.length) {
    const next = units[i + 1];
    if (next) {
      units[i] = next;
      units[i + 1] = unit;
    }
    log.push(`PDUs ${i} and ${i + 1} swapped`);
  } else if (what === 3) {
    units.splice(i, 0, { bytes: RELEASE_RQ, waitBefore: false, label: "A-RELEASE-RQ" });
    log.push(`A-RELEASE-RQ inserted before PDU ${i}`);
  } else if (what === 4) {
    units.splice(i, 0, { bytes: abortPdu(0, 0), waitBefore: false, label: "A-ABORT" });
    units.length = i + 1;
    log.push(`A-ABORT instead of PDU ${i} and the rest`);
  } else if (what === 5) {
    // PDUs only an acceptor sends: A-ASSOCIATE-AC / RJ, A-RELEASE-RP.
    const type = rng.pick([0x02, 0x03, 0x06]);
    const body = type === 0x02 ? associateRq().subarray(6) : Buffer.from([0, 1, 1, 1]);
    units.splice(i, 0, { bytes: pdu(type, body), waitBefore: false, label: `type ${type}` });
    log.push(`acceptor PDU type 0x${type.toString(16)} inserted before PDU ${i}`);
  } else if (what === 6) {
    units.splice(i, 0, { bytes: associateRq(), waitBefore: false, label: "A-ASSOCIATE-RQ" });
    log.push(`second A-ASSOCIATE-RQ inserted before PDU ${i}`);
  } else {
    // The whole association repeated on the same connection (everything twice).
    units.push(...units.map((u) => ({ ...u })));
    log.push("the whole PDU sequence sent twice");
  }
}

function mutateBytes(rng: Prng, units: MutableUnit[], log: string[]): void {
  const i = rng.int(units.length);
  const unit = units[i];
  if (!unit) return;
  // Header mutations need a whole PDU header (a unit may be garbage or already cut short).
  const bytes =
    unit.bytes.length >= 6 ? Buffer.from(unit.bytes) : Buffer.concat([unit.bytes, Buffer.alloc(6)]);
  const what = rng.int(7);
  if (what === 0) {
    const field = rng.int(6);
    if (field === 0) bytes[0] = rng.chance(0.5) ? rng.range(0, 8) : rng.int(256);
    else if (field === 1) bytes[1] = rng.int(256);
    else bytes.writeUInt32BE(lengthLie(rng, bytes.readUInt32BE(2)) >>> 0, 2);
    log.push(
      `PDU ${i} (${unit.label}) header: type 0x${(bytes[0] ?? 0).toString(16)} reserved 0x${(bytes[1] ?? 0).toString(16)} length 0x${bytes.readUInt32BE(2).toString(16)}`,
    );
  } else if (what === 1) {
    const flips = rng.range(1, 16);
    for (let n = 0; n < flips; n += 1) {
      const at = rng.int(bytes.length);
      bytes[at] = (bytes[at] ?? 0) ^ (1 << rng.int(8));
    }
    log.push(`PDU ${i} (${unit.label}): ${flips} bit flips (rng-chosen)`);
  } else if (what === 2) {
    const n = rng.range(1, 8);
    for (let k = 0; k < n; k += 1) bytes[rng.int(bytes.length)] = rng.pick(INTERESTING_BYTES);
    log.push(`PDU ${i} (${unit.label}): ${n} bytes replaced`);
  } else if (what === 3) {
    // Truncate at an interesting boundary: inside the header, at the PDV/item header, or anywhere;
    // the rest of the stream is dropped too (abrupt disconnect).
    const cut = rng.pick([0, 1, 2, 5, 6, 7, 10, 11, 12, bytes.length - 1, rng.int(bytes.length)]);
    units[i] = { ...unit, bytes: bytes.subarray(0, Math.min(cut, bytes.length)) };
    units.length = i + 1;
    log.push(`stream cut in PDU ${i} (${unit.label}) after ${Math.min(cut, bytes.length)} bytes`);
    return;
  } else if (what === 4) {
    const garbage = rng.chance(0.3)
      ? rng.pick([
          Buffer.from("GET / HTTP/1.1\r\nHost: dxgate\r\n\r\n"),
          Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]),
          Buffer.alloc(64),
        ])
      : rng.bytes(rng.range(1, 100));
    units.splice(i, 0, { bytes: garbage, waitBefore: false, label: "garbage" });
    log.push(`${garbage.length} garbage bytes before PDU ${i}`);
    return;
  } else if (what === 5) {
    // PDU length says less than the body: the rest is read as the next PDU.
    const actual = bytes.length - 6;
    const value = rng.int(Math.max(1, actual));
    bytes.writeUInt32BE(value, 2);
    log.push(`PDU ${i} (${unit.label}) length ${value} < body ${actual}`);
  } else {
    const n = rng.range(1, 32);
    const at = rng.int(bytes.length);
    units[i] = { ...unit, bytes: Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + n)]) };
    log.push(`PDU ${i} (${unit.label}): ${n} bytes deleted at ${at}`);
    return;
  }
  units[i] = { ...unit, bytes };
}

const hex4 = (n: number) => n.toString(16).padStart(4, "0");

// ---------------------------------------------------------------------------------------------
// Playing a case, and reading the answers

export interface CaseOutcome {
  /** C-STORE-RSPs with a success or warning status: the instance must be in the spool. */
  acknowledged: string[];
  /** Every C-STORE-RSP status seen, by SOP Instance UID. */
  statuses: Array<{ uid: string; status: number }>;
  /** First byte of each PDU received. */
  pduTypes: number[];
  /** The SCP neither closed nor ended the association within the cap. */
  hung: boolean;
  closedByServer: boolean;
}

/** Parses the SCP's PDUs as they arrive; collects C-STORE-RSP statuses. */
class ResponseReader {
  #buffer = Buffer.alloc(0);
  readonly pduTypes: number[] = [];
  readonly statuses: Array<{ uid: string; status: number }> = [];
  #command = new Map<number, Buffer[]>();
  terminal = false;

  push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 6) {
      const length = this.#buffer.readUInt32BE(2);
      if (this.#buffer.length < 6 + length) break;
      const type = this.#buffer[0] ?? 0;
      const body = this.#buffer.subarray(6, 6 + length);
      this.#buffer = this.#buffer.subarray(6 + length);
      this.pduTypes.push(type);
      if (type === 0x03 || type === 0x06 || type === 0x07) this.terminal = true;
      if (type === 0x04) this.#pData(body);
    }
  }

  #pData(body: Buffer): void {
    let at = 0;
    while (at + 6 <= body.length) {
      const length = body.readUInt32BE(at);
      const contextId = body[at + 4] ?? 0;
      const control = body[at + 5] ?? 0;
      const data = body.subarray(at + 6, at + 4 + length);
      at += 4 + length;
      if ((control & 1) === 0) continue;
      const parts = this.#command.get(contextId) ?? [];
      parts.push(data);
      this.#command.set(contextId, parts);
      if (control & 2) {
        this.#command.delete(contextId);
        this.#response(Buffer.concat(parts));
      }
    }
  }

  #response(command: Buffer): void {
    let field = -1;
    let status = -1;
    let uid = "";
    for (let at = 0; at + 8 <= command.length; ) {
      const element = command.readUInt16LE(at + 2);
      const length = command.readUInt32LE(at + 4);
      const value = command.subarray(at + 8, at + 8 + length);
      if (element === 0x0100 && length === 2) field = value.readUInt16LE(0);
      if (element === 0x0900 && length === 2) status = value.readUInt16LE(0);
      if (element === 0x1000) uid = value.toString("latin1").replace(/[\0 ]+$/, "");
      at += 8 + length;
    }
    if (field === 0x8001) this.statuses.push({ uid, status });
  }
}

/** PS3.7 C: Success, and the Warning statuses (the instance was stored). */
export function isStoredStatus(status: number): boolean {
  return status === 0x0000 || status === 0x0001 || (status & 0xf000) === 0xb000;
}

export interface PlayOptions {
  /** How long the SCP has to answer, or to end the association, before the case is a hang. */
  hangAfterMs: number;
}

/** Play one case over a fresh TCP connection; resolves once the connection is closed. */
export function playCase(port: number, fuzzCase: FuzzCase, options: PlayOptions): Promise<CaseOutcome> {
  return new Promise((resolve) => {
    const reader = new ResponseReader();
    const socket = connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    let closed = false;
    let closedByServer = false;
    let hung = false;
    let wake: (() => void) | undefined;
    const poke = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    socket.on("data", (chunk: Buffer) => {
      reader.push(chunk);
      poke();
    });
    socket.on("end", () => {
      closedByServer = true;
      poke();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      closed = true;
      poke();
    });
    /** Wait until `done()` holds, something arrives, or `ms` pass. */
    const settle = (done: () => boolean, ms: number) =>
      new Promise<void>((next) => {
        if (done()) {
          next();
          return;
        }
        const timer = setTimeout(() => {
          wake = undefined;
          next();
        }, ms);
        const check = () => {
          if (done()) {
            clearTimeout(timer);
            next();
          } else wake = check;
        };
        wake = check;
      });
    const ended = () => closed || closedByServer || reader.terminal;
    const run = async () => {
      await new Promise<void>((ready) => {
        socket.once("connect", () => ready());
        socket.once("close", () => ready());
      });
      for (const chunk of fuzzCase.chunks) {
        if (ended()) break;
        if (chunk.waitBefore) {
          const seen = reader.pduTypes.length;
          // Like storescu: the next message only once the previous one is answered. A SCP that
          // neither answers nor times the association out is hung.
          await settle(() => ended() || reader.pduTypes.length > seen, options.hangAfterMs);
          if (ended()) break;
          if (reader.pduTypes.length === seen) {
            hung = true;
            break;
          }
        }
        if (chunk.bytes.length > 0 && !socket.destroyed) socket.write(chunk.bytes);
      }
      // Our part is done: the SCP must now answer and end the association, or time it out.
      const deadline = Date.now() + options.hangAfterMs;
      while (!hung && !ended() && Date.now() < deadline) {
        await settle(ended, Math.max(1, deadline - Date.now()));
      }
      hung ||= !ended();
      socket.destroy();
      if (!closed) await new Promise<void>((done) => socket.once("close", () => done()));
      resolve({
        acknowledged: reader.statuses.filter((s) => isStoredStatus(s.status)).map((s) => s.uid),
        statuses: reader.statuses,
        pduTypes: reader.pduTypes,
        hung,
        closedByServer,
      });
    };
    void run();
  });
}

/**
 * Known bug (dcmjs-dimse 0.3.3, `Association.addPresentationContext`): a presentation context whose
 * id is not above every id before it is renumbered to (largest so far + 2). Past 255 the
 * A-ASSOCIATE-AC cannot be written: `sendAssociationAccept` throws a RangeError out of the socket's
 * data handler (an unhandled rejection), no answer is sent and the connection is left without a
 * watchdog. Does `bytes` (the start of a case's stream) trigger that? Mirrors the library's parse.
 */
export function triggersContextRenumbering(bytes: Buffer): boolean {
  if (bytes.length < 6 + 68 || bytes[0] !== 0x01) return false;
  const end = Math.min(bytes.length, 6 + bytes.readUInt32BE(2));
  const ids: number[] = [];
  for (let at = 6 + 68; at + 4 <= end; at += 4 + bytes.readUInt16BE(at + 2)) {
    if (bytes[at] !== 0x20 || at + 8 > end) continue;
    const itemEnd = Math.min(end, at + 4 + bytes.readUInt16BE(at + 2));
    // One context per abstract syntax sub-item, numbered from the item's id (0 reads as 1).
    for (let sub = at + 8; sub + 4 <= itemEnd; sub += 4 + bytes.readUInt16BE(sub + 2)) {
      if (bytes[sub] !== 0x30) continue;
      let id = bytes[at + 4] || 1;
      for (const existing of ids) if (existing >= id) id = existing + 2;
      ids.push(id);
    }
  }
  return ids.some((id) => id > 255);
}
