/**
 * One upload attempt of one study: previews → manifest → manifest-ack → the chunks the reading
 * centre does not hold yet → commit → commit-ack, under a fresh transferId.
 * Resolves with what the reading centre stored when it acknowledged the whole study; throws a coded
 * error otherwise. It never touches the queue: the sender decides what a failure means.
 */
import { createHash, type KeyObject, randomUUID } from "node:crypto";
import { DxgateError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import { checkFileSizes, offeredChunkSize, readChunks } from "./chunker.ts";
import type { CommitAckRegistry, ExpectedAck } from "./commit-acks.ts";
import { describeError, UPLOAD_ERRORS, uploadError } from "./errors.ts";
import { type PreviewPlan, sendPreviews } from "./previews.ts";
import {
  type ByteRange,
  type CommitAckMessage,
  type CommitMessage,
  decodeJsonMessage,
  encodeChunk,
  encodeJsonMessage,
  type InstanceDescriptor,
  MAX_INSTANCES_PER_STUDY,
  type ManifestAckMessage,
  type ManifestMessage,
  MIN_CHUNK_BYTES,
  ProtocolError,
  type SiteAddress,
  signMessage,
  type UpKind,
  upTopic,
} from "./protocol/index.ts";
import { PublishWindow } from "./publish-window.ts";
import type { Publisher } from "./session.ts";
import type { OutboundStudy } from "./types.ts";

export interface TransferSettings {
  /**
   * The largest data bytes per chunk the box offers (1024 … MAX_CHUNK_BYTES); a bandwidth budget
   * may lower the offer (`offeredChunkSize`), the reading centre may ask for less.
   */
  chunkSize: number;
  /** Chunk publishes awaiting PUBACK at once. */
  window: number;
  /** How long to wait for the commit-ack after the broker acknowledged the commit. */
  ackTimeoutMs: number;
  /**
   * How long to wait for the manifest-ack after the broker acknowledged the manifest. Without one by
   * then the county is taken for an older one: everything is sent at the offered chunk size.
   */
  manifestAckTimeoutMs: number;
  /** Send the study's previews ahead of its data. */
  sendPreviews: boolean;
  /** Largest preview sent (bytes); larger ones are skipped. */
  maxPreviewBytes: number;
  /** The box's Ed25519 key: manifest and commit are signed with it. None = unsigned. */
  signingKey?: KeyObject | undefined;
}

/** What the hook at a chunk boundary decides: carry on, or give the uplink to another study. */
export type ChunkBoundaryDecision = "continue" | "yield";

export interface TransferDeps extends TransferSettings {
  session: Publisher;
  /**
   * Paces every publish against the uplink budget; none = unlimited. `rate()` (bytes/s, Infinity =
   * unlimited) caps the offered chunk size of each attempt.
   */
  budget?: { take(bytes: number, signal?: AbortSignal): Promise<void>; rate?(): number };
  site: SiteAddress;
  acks: CommitAckRegistry;
  log: Logger;
  /**
   * Awaited before each chunk is published. On "yield" the attempt waits for the chunks in flight to
   * be acknowledged (so the county holds them and the next attempt skips them) and throws
   * UPLOAD_PREEMPTED.
   */
  atChunkBoundary?: () => Promise<ChunkBoundaryDecision>;
}

export interface TransferResult {
  transferId: string;
  /** SOP Instance UIDs the reading centre holds durably and verified (every instance of the study). */
  stored: string[];
  /** The study's instance bytes (sent + held). */
  bytes: number;
  /** Instance bytes sent as chunks in this attempt. */
  sentBytes: number;
  /** Instance bytes not sent because the reading centre already held them (its manifest-ack). */
  heldBytes: number;
  /** Data bytes per chunk used in this attempt (negotiated, or the box's offer). */
  chunkSize: number;
  /** Previews published (and acknowledged by the broker) in this attempt. */
  previews: number;
}

/** Marks an attempt that ended while its previews were being published (see `failedWhileSendingPreviews`). */
const PREVIEW_PHASE = "preview";

/**
 * True for an attempt that lost its connection while publishing previews. A county broker older than
 * `up/preview` refuses the unknown topic by closing the connection (MQTT 3.1.1 has no negative
 * PUBACK), so the sender retries such a study without previews: a preview never holds data back.
 */
export function failedWhileSendingPreviews(error: unknown): boolean {
  return error instanceof DxgateError && error.details?.phase === PREVIEW_PHASE;
}

/** What to send in one attempt, from the manifest-ack (or the box's own offer without one). */
interface SendPlan {
  chunkSize: number;
  /** Held ranges per instance, by the manifest's instance order. */
  held: ByteRange[][];
  /** A manifest-ack came (false: an older county, everything is sent). */
  negotiated: boolean;
}

/**
 * @param signal aborted with a coded error when the attempt must end early (uploader stopping, the
 *   broker lost the session); the attempt then throws that error.
 */
export async function transferStudy(
  deps: TransferDeps,
  outbound: OutboundStudy,
  signal: AbortSignal,
  previewPlan: PreviewPlan = {},
): Promise<TransferResult> {
  const { session, site, acks } = deps;
  const transferId = randomUUID();
  const studyInstanceUid = outbound.study.studyInstanceUid;
  const log = deps.log.child({ transferId, studyInstanceUid });
  const sign = <T extends ManifestMessage | CommitMessage>(message: T): T =>
    deps.signingKey ? signMessage(upTopic(site, message.type), message, deps.signingKey) : message;

  // The offer follows the budget in force now: on a slow uplink a chunk must not hold a stat study
  // back for long (each attempt looks again, so the night's faster budget gets larger chunks).
  const offer = offeredChunkSize(deps.chunkSize, deps.budget?.rate?.());
  const manifestPayload = buildManifest(outbound, transferId, offer, sign);
  const manifestSha256 = createHash("sha256").update(manifestPayload).digest("hex");
  await checkFileSizes(outbound.instances);
  throwIfAborted(signal);

  // A transfer lives on one connection: if the link drops, publishes acknowledged by the broker before
  // may never reach the reading centre (a restarted broker forgets them), so the attempt starts over.
  const generation = session.generation;
  const publish = async (
    kind: Extract<UpKind, "preview" | "manifest" | "chunk" | "commit">,
    payload: Buffer,
  ) => {
    throwIfAborted(signal);
    await deps.budget?.take(payload.length, signal);
    throwIfAborted(signal);
    // A preview is best effort: one lost with the connection is not re-sent by mqtt.js on reconnect.
    return session.publish(upTopic(site, kind), payload, {
      generation,
      ...(kind === "preview" ? { discardOnDisconnect: true } : {}),
    });
  };

  const expected = acks.expect(transferId, studyInstanceUid);
  try {
    const started = Date.now();
    let previews = 0;
    if (deps.sendPreviews && !previewPlan.skipAll && (outbound.previews?.length ?? 0) > 0) {
      // Every preview is PUBACKed before the manifest goes (same reasoning as for chunks below), so
      // the county has them before it has anything else of the study.
      try {
        previews = await sendPreviews({
          studyInstanceUid,
          previews: outbound.previews!,
          maxBytes: deps.maxPreviewBytes,
          window: deps.window,
          plan: previewPlan,
          publish: (payload) => publish("preview", payload),
          log,
        });
      } catch (error) {
        const { code, message } = describeError(error);
        if (signal.aborted || code !== UPLOAD_ERRORS.connectionLost) throw error;
        throw uploadError(code, `while sending previews: ${message}`, { phase: PREVIEW_PHASE });
      }
    }
    // The manifest is awaited before any chunk. MQTT orders messages only within one topic
    // [MQTT-4.6.0-5]; with the manifest's PUBACK in hand the broker holds it before any chunk, as
    // close to cross-topic order as 3.1.1 gets (and a county that answers manifest-ack has it for
    // certain before the first chunk).
    await publish("manifest", manifestPayload);
    const plan = await negotiate(deps, expected, outbound, offer, signal, log);

    let sentBytes = 0;
    const window = new PublishWindow(deps.window);
    for (const [index, instance] of outbound.instances.entries()) {
      for await (const chunk of readChunks(instance, plan.chunkSize, plan.held[index])) {
        if (deps.atChunkBoundary && (await deps.atChunkBoundary()) === "yield") {
          // What is in flight is let through, so the county holds it and the next attempt skips it.
          await window.drain();
          throw uploadError(
            UPLOAD_ERRORS.preempted,
            `gave the uplink to a study of higher priority after ${sentBytes} bytes`,
            { sentBytes },
          );
        }
        const payload = encodeChunk(
          { transferId, sopInstanceUid: instance.sopInstanceUid, offset: chunk.offset },
          chunk.data,
        );
        await window.add(() => publish("chunk", payload));
        sentBytes += chunk.data.length;
      }
    }
    // Every chunk must be PUBACKed before the commit goes, for the same ordering reason.
    await window.drain();
    const bytes = outbound.instances.reduce((sum, instance) => sum + instance.size, 0);
    const heldBytes = bytes - sentBytes;
    const commit: CommitMessage = sign({
      v: 1,
      type: "commit",
      sentAt: new Date().toISOString(),
      transferId,
      studyInstanceUid,
      instanceCount: outbound.instances.length,
      manifestSha256,
    });
    await publish("commit", encodeJsonMessage(commit));
    log.debug(
      { sentBytes, heldBytes, previews, ms: Date.now() - started },
      "study sent; waiting for commit-ack",
    );

    // From here the link may drop and come back: the broker keeps the commit-ack for our persistent
    // session [MQTT-3.1.2-5]. Only the timeout, a stop, or a lost session end the wait.
    const ack = await waitFor(expected.promise, deps.ackTimeoutMs, signal);
    if (ack === TIMED_OUT) {
      throw uploadError(UPLOAD_ERRORS.ackTimeout, `no commit-ack within ${deps.ackTimeoutMs} ms`);
    }
    const stored = acceptedInstances(ack, outbound);
    log.info(
      {
        sentBytes,
        heldBytes,
        chunkSize: plan.chunkSize,
        negotiated: plan.negotiated,
        previews,
        ms: Date.now() - started,
      },
      "study acknowledged by the reading centre",
    );
    return { transferId, stored, bytes, sentBytes, heldBytes, chunkSize: plan.chunkSize, previews };
  } finally {
    expected.cancel();
  }
}

/**
 * Wait for the manifest-ack and turn it into what to send. An error ack fails the attempt with
 * UPLOAD_REFUSED (`details.retryAfterMs`: the county's hint); an ack that breaks the protocol with
 * UPLOAD_BAD_MANIFEST_ACK; no ack in time means an older county: everything, at the box's offer.
 */
async function negotiate(
  deps: TransferDeps,
  expected: ExpectedAck,
  outbound: OutboundStudy,
  offer: number,
  signal: AbortSignal,
  log: Logger,
): Promise<SendPlan> {
  const count = outbound.instances.length;
  const ack = await waitFor(expected.manifestAck, deps.manifestAckTimeoutMs, signal);
  if (ack === TIMED_OUT) {
    const first = deps.acks.noteManifestAckTimeout();
    log[first ? "warn" : "debug"](
      { timeoutMs: deps.manifestAckTimeoutMs, chunkSize: offer },
      "no manifest-ack from the reading centre (an older county?); sending the whole study",
    );
    return { chunkSize: offer, held: Array.from({ length: count }, () => []), negotiated: false };
  }
  if (ack.status === "error") throw refusal(ack);
  if (!Number.isSafeInteger(ack.chunkSize) || ack.chunkSize > offer || ack.chunkSize < MIN_CHUNK_BYTES) {
    throw uploadError(
      UPLOAD_ERRORS.badManifestAck,
      `manifest-ack asks for ${ack.chunkSize}-byte chunks; the box offered ${MIN_CHUNK_BYTES} … ${offer}`,
    );
  }
  const held: ByteRange[][] = Array.from({ length: count }, () => []);
  for (const [index, start, end] of ack.held) {
    const ranges = held[index];
    if (!ranges) {
      throw uploadError(
        UPLOAD_ERRORS.badManifestAck,
        `manifest-ack lists a held range of instance #${index}; the manifest has ${count}`,
      );
    }
    ranges.push([start, end]);
  }
  return { chunkSize: ack.chunkSize, held, negotiated: true };
}

function refusal(ack: ManifestAckMessage): DxgateError {
  const county = ack.error ? `${ack.error.code}: ${ack.error.message.slice(0, 200)}` : "no reason given";
  const retry = ack.retryAfterMs !== undefined ? `; retry after ${ack.retryAfterMs} ms` : "";
  return uploadError(UPLOAD_ERRORS.refused, `reading centre refused the manifest (${county})${retry}`, {
    ...(ack.error ? { countyCode: ack.error.code } : {}),
    ...(ack.retryAfterMs !== undefined ? { retryAfterMs: ack.retryAfterMs } : {}),
  });
}

/** The manifest's payload (signed when the box has a key), validated as the county would. */
function buildManifest(
  outbound: OutboundStudy,
  transferId: string,
  chunkSize: number,
  sign: (manifest: ManifestMessage) => ManifestMessage,
): Buffer {
  const count = outbound.instances.length;
  if (count === 0 || count > MAX_INSTANCES_PER_STUDY) {
    throw uploadError(
      UPLOAD_ERRORS.invalidStudy,
      `study has ${count} instances; a manifest holds 1 to ${MAX_INSTANCES_PER_STUDY}`,
    );
  }
  const seen = new Set<string>();
  for (const { sopInstanceUid } of outbound.instances) {
    if (seen.has(sopInstanceUid)) {
      throw uploadError(UPLOAD_ERRORS.invalidStudy, `instance ${sopInstanceUid} is listed twice`);
    }
    seen.add(sopInstanceUid);
  }
  const manifest: ManifestMessage = {
    v: 1,
    type: "manifest",
    sentAt: new Date().toISOString(),
    transferId,
    study: outbound.study,
    // Descriptors only: the box's file paths are none of the county's business.
    instances: outbound.instances.map(
      (i): InstanceDescriptor => ({
        sopInstanceUid: i.sopInstanceUid,
        sopClassUid: i.sopClassUid,
        transferSyntaxUid: i.transferSyntaxUid,
        seriesInstanceUid: i.seriesInstanceUid,
        size: i.size,
        sha256: i.sha256,
      }),
    ),
    chunkSize,
  };
  const payload = encodeJsonMessage(sign(manifest));
  try {
    // Validate with the receiver's own schema and size limit: a manifest the county would reject is
    // better refused here, with the reason, than retried forever.
    decodeJsonMessage(payload, "manifest");
  } catch (error) {
    if (error instanceof ProtocolError) {
      // The schema message names a path, never a value, so it is safe to log and to show.
      throw uploadError(
        UPLOAD_ERRORS.invalidStudy,
        `manifest would be invalid: ${error.code} ${error.message}`,
      );
    }
    throw error;
  }
  return payload;
}

const TIMED_OUT = Symbol("timed out");

/** `promise`'s value, or TIMED_OUT after `timeoutMs`; rejects with the signal's reason on abort. */
function waitFor<T>(
  promise: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<T | typeof TIMED_OUT> {
  return new Promise<T | typeof TIMED_OUT>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      done();
      resolve(TIMED_OUT);
    }, timeoutMs);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    void promise.then((value) => {
      done();
      resolve(value);
    });
  });
}

/**
 * The study is delivered only when the reading centre says ok, misses nothing, and lists every
 * instance as stored; any other combination is a failure, retried, never a silent loss.
 */
function acceptedInstances(ack: CommitAckMessage, outbound: OutboundStudy): string[] {
  const stored = new Set(ack.stored);
  const notStored = outbound.instances.filter((i) => !stored.has(i.sopInstanceUid)).length;
  if (ack.status === "ok" && ack.missing.length === 0 && notStored === 0) return ack.stored;
  const why = ack.error ? ` ${ack.error.code}: ${ack.error.message.slice(0, 200)}` : "";
  throw uploadError(
    UPLOAD_ERRORS.rejected,
    `reading centre answered ${ack.status}${why}; ${ack.missing.length} missing, ${notStored} of ${outbound.instances.length} not stored`,
  );
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason;
}
