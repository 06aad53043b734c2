/**
 * Reads the MQTT 3.1.1 byte stream passing the link proxy (topics and chunk headers travel in clear
 * on the bench's plain-TCP link) to tell which chunk PUBLISHes crossed the link, which are still
 * awaiting their PUBACK (in flight), and which crossed more than once (re-sent). Only the first
 * bytes of each packet are kept; the rest is skipped by counting (§2.2: fixed header, Remaining
 * Length as a variable byte integer).
 */
import type { BytesEvent, LinkProxy } from "../../test/support/link-proxy.ts";

/** Enough for the topic, the packet id and a chunk's DXC1 prefix and JSON header (≤ 1024 bytes). */
const HEAD_BYTES = 1400;

interface Packet {
  type: number;
  flags: number;
  remaining: number;
  head: Buffer;
}

class MqttStream {
  #state: "type" | "length" | "body" = "type";
  #type = 0;
  #flags = 0;
  #value = 0;
  #multiplier = 1;
  #remaining = 0;
  #head: Buffer[] = [];
  #headBytes = 0;
  #headWanted = 0;
  #current: Packet | undefined;
  readonly onHead: (packet: Packet) => void;
  readonly onEnd: (packet: Packet) => void;

  constructor(onHead: (packet: Packet) => void, onEnd: (packet: Packet) => void) {
    this.onHead = onHead;
    this.onEnd = onEnd;
  }

  /** True while a packet's body is only partly through. */
  get insideBody(): boolean {
    return this.#state === "body";
  }

  /** The packet whose body is passing now, once its head was read. */
  get current(): Packet | undefined {
    return this.#current;
  }

  feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === "type") {
        const byte = chunk[i++]!;
        this.#type = byte >> 4;
        this.#flags = byte & 0x0f;
        this.#value = 0;
        this.#multiplier = 1;
        this.#state = "length";
        continue;
      }
      if (this.#state === "length") {
        const byte = chunk[i++]!;
        this.#value += (byte & 0x7f) * this.#multiplier;
        this.#multiplier *= 128;
        if (byte & 0x80) continue;
        this.#remaining = this.#value;
        this.#head = [];
        this.#headBytes = 0;
        this.#headWanted = Math.min(HEAD_BYTES, this.#remaining);
        this.#current = undefined;
        if (this.#remaining === 0) {
          const packet = { type: this.#type, flags: this.#flags, remaining: 0, head: Buffer.alloc(0) };
          this.onHead(packet);
          this.onEnd(packet);
          this.#state = "type";
        } else {
          this.#state = "body";
        }
        continue;
      }
      const take = Math.min(this.#remaining, chunk.length - i);
      if (this.#headBytes < this.#headWanted) {
        const piece = chunk.subarray(i, i + Math.min(take, this.#headWanted - this.#headBytes));
        this.#head.push(Buffer.from(piece));
        this.#headBytes += piece.length;
        if (this.#headBytes === this.#headWanted) {
          this.#current = {
            type: this.#type,
            flags: this.#flags,
            remaining: this.#value,
            head: Buffer.concat(this.#head),
          };
          this.onHead(this.#current);
        }
      }
      this.#remaining -= take;
      i += take;
      if (this.#remaining === 0) {
        this.#state = "type";
        if (this.#current) this.onEnd(this.#current);
        this.#current = undefined;
      }
    }
  }
}

export interface ChunkPublish {
  topic: string;
  packetId: number;
  sopInstanceUid: string;
  offset: number;
  /** Chunk data bytes (after the header). */
  dataBytes: number;
  /** Bytes of the whole MQTT packet. */
  packetBytes: number;
}

const PUBLISH = 3;
const PUBACK = 4;

function parsePublish(packet: Packet): ChunkPublish | { topic: string; packetId: number } | undefined {
  const head = packet.head;
  if (head.length < 2) return undefined;
  const topicLength = head.readUInt16BE(0);
  if (head.length < 2 + topicLength) return undefined;
  const topic = head.subarray(2, 2 + topicLength).toString("utf8");
  const qos = (packet.flags >> 1) & 3;
  let at = 2 + topicLength;
  let packetId = 0;
  if (qos > 0) {
    packetId = head.readUInt16BE(at);
    at += 2;
  }
  if (!topic.endsWith("/up/chunk")) return { topic, packetId };
  const payload = head.subarray(at);
  if (payload.length < 8 || payload.subarray(0, 4).toString("latin1") !== "DXC1") return { topic, packetId };
  const headerLength = payload.readUInt32BE(4);
  try {
    const header = JSON.parse(payload.subarray(8, 8 + headerLength).toString("utf8")) as {
      sopInstanceUid: string;
      offset: number;
    };
    const payloadBytes = packet.remaining - at;
    const remainingLengthBytes = packet.remaining < 128 ? 1 : packet.remaining < 16384 ? 2 : 3;
    return {
      topic,
      packetId,
      sopInstanceUid: header.sopInstanceUid,
      offset: header.offset,
      dataBytes: payloadBytes - 8 - headerLength,
      packetBytes: 1 + remainingLengthBytes + packet.remaining,
    };
  } catch {
    return { topic, packetId };
  }
}

export interface CutObservation {
  /** Distinct instances with a chunk on the link (seen by the proxy, no PUBACK yet) at the cut. */
  inFlightInstances: number;
  /** Chunk PUBLISHes on the link at the cut. */
  inFlightChunks: number;
  /** The cut fell inside a chunk PUBLISH. */
  midChunk: boolean;
}

const chunkKey = (c: ChunkPublish) => `${c.sopInstanceUid}@${c.offset}`;

/**
 * The chunk PUBLISHes that arrived whole on the far side of the link (fed by the relay behind the
 * proxy): a chunk sent again after this was re-sent although the broker had it.
 */
export class DeliveredChunks {
  readonly #keys = new Set<string>();
  readonly #streams = new Map<number, MqttStream>();

  feed(connection: number, data: Buffer): void {
    let stream = this.#streams.get(connection);
    if (!stream) {
      stream = new MqttStream(
        () => {},
        (packet) => {
          if (packet.type !== PUBLISH) return;
          const publish = parsePublish(packet);
          if (isChunk(publish)) this.#keys.add(chunkKey(publish));
        },
      );
      this.#streams.set(connection, stream);
    }
    stream.feed(data);
  }

  has(key: string): boolean {
    return this.#keys.has(key);
  }
}

export class LinkTap {
  /** How many times each chunk (instance, offset) started across the link. */
  readonly sends = new Map<string, { count: number; dataBytes: number; packetBytes: number }>();
  /** Upward packets by topic kind ("chunk", "manifest", …), with bytes. */
  readonly kinds = new Map<string, { packets: number; bytes: number }>();
  /** Chunk data bytes crossing the link for the first time. */
  uniqueChunkBytes = 0;
  /** Chunks sent again although an earlier copy had arrived whole beyond the link. */
  readonly resentDelivered = { chunks: 0, dataBytes: 0, keys: [] as string[] };
  readonly #delivered: DeliveredChunks | undefined;
  /** Every upward PUBLISH as "connection kind [instance@offset] [dup]", for debugging. */
  readonly trace: string[] = [];
  readonly #up = new Map<number, MqttStream>();
  readonly #down = new Map<number, MqttStream>();
  readonly #inFlight = new Map<number, Map<number, ChunkPublish>>();
  readonly #stops: Array<() => void> = [];
  #lastConnection = 0;

  constructor(proxy: LinkProxy, delivered?: DeliveredChunks) {
    this.#delivered = delivered;
    this.#stops.push(proxy.onBytes("clientToServer", (event) => this.#upward(event)));
    this.#stops.push(proxy.onBytes("serverToClient", (event) => this.#downward(event)));
  }

  stop(): void {
    for (const stop of this.#stops) stop();
  }

  /** True while the newest connection's upward stream is inside a chunk PUBLISH. */
  get insideChunk(): boolean {
    const stream = this.#up.get(this.#lastConnection);
    const current = stream?.current;
    return (stream?.insideBody ?? false) && current?.type === PUBLISH && isChunk(parsePublish(current));
  }

  /** What was on the link at this moment (call it just before or at the cut). */
  observe(): CutObservation {
    const inFlight = this.#inFlight.get(this.#lastConnection) ?? new Map<number, ChunkPublish>();
    return {
      inFlightInstances: new Set([...inFlight.values()].map((c) => c.sopInstanceUid)).size,
      inFlightChunks: inFlight.size,
      midChunk: this.insideChunk,
    };
  }

  /** Chunks that crossed the link more than once, and their extra crossings' bytes. */
  duplicates(): { chunks: number; dataBytes: number; packetBytes: number } {
    let chunks = 0;
    let dataBytes = 0;
    let packetBytes = 0;
    for (const send of this.sends.values()) {
      if (send.count <= 1) continue;
      chunks += send.count - 1;
      dataBytes += (send.count - 1) * send.dataBytes;
      packetBytes += (send.count - 1) * send.packetBytes;
    }
    return { chunks, dataBytes, packetBytes };
  }

  #upward({ chunk, connection }: BytesEvent): void {
    this.#lastConnection = connection;
    let stream = this.#up.get(connection);
    if (!stream) {
      stream = new MqttStream(
        (packet) => {
          if (packet.type !== PUBLISH) return;
          const publish = parsePublish(packet);
          if (!publish) return;
          const kind = publish.topic.slice(publish.topic.lastIndexOf("/") + 1);
          const seen = this.kinds.get(kind) ?? { packets: 0, bytes: 0 };
          seen.packets += 1;
          seen.bytes += packet.remaining;
          this.kinds.set(kind, seen);
          const dup = packet.flags & 0x08 ? " dup" : "";
          this.trace.push(
            `${connection} ${kind}${isChunk(publish) ? ` ${chunkKey(publish)}` : ""} id=${publish.packetId}${dup}`,
          );
          if (!isChunk(publish)) return;
          const key = chunkKey(publish);
          const send = this.sends.get(key);
          if (send) {
            send.count += 1;
            if (this.#delivered?.has(key)) {
              this.resentDelivered.chunks += 1;
              this.resentDelivered.dataBytes += publish.dataBytes;
              this.resentDelivered.keys.push(key);
            }
          } else {
            this.sends.set(key, { count: 1, dataBytes: publish.dataBytes, packetBytes: publish.packetBytes });
            this.uniqueChunkBytes += publish.dataBytes;
          }
          const inFlight = this.#inFlight.get(connection) ?? new Map<number, ChunkPublish>();
          this.#inFlight.set(connection, inFlight);
          inFlight.set(publish.packetId, publish);
        },
        () => {},
      );
      this.#up.set(connection, stream);
    }
    stream.feed(chunk);
  }

  #downward({ chunk, connection }: BytesEvent): void {
    let stream = this.#down.get(connection);
    if (!stream) {
      stream = new MqttStream(
        (packet) => {
          if (packet.type !== PUBACK || packet.head.length < 2) return;
          this.#inFlight.get(connection)?.delete(packet.head.readUInt16BE(0));
        },
        () => {},
      );
      this.#down.set(connection, stream);
    }
    stream.feed(chunk);
  }
}

function isChunk(publish: ReturnType<typeof parsePublish>): publish is ChunkPublish {
  return publish !== undefined && "sopInstanceUid" in publish;
}
