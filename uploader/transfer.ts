/**
 * One upload attempt of one study: previews → manifest → chunks → commit → commit-ack, under a fresh
 * transferId.
 * Resolves with what the reading centre stored when it acknowledged the whole study; throws a coded
 * error otherwise. It never touches the queue: the sender decides what a failure means.
 */
import { randomUUID } from "node:crypto";
import { DxgateError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import { checkFileSizes, readChunks } from "./chunker.ts";
import type { CommitAckRegistry, ExpectedAck } from "./commit-acks.ts";
import { describeError, UPLOAD_ERRORS, uploadError } from "./errors.ts";
import { type PreviewPlan, sendPreviews } from "./previews.ts";
import {
  type CommitAckMessage,
  type CommitMessage,
  decodeJsonMessage,
  encodeChunk,
  encodeJsonMessage,
  type InstanceDescriptor,
  MAX_INSTANCES_PER_STUDY,
  type ManifestMessage,
  ProtocolError,
  type SiteAddress,
  type UpKind,
  upTopic,
} from "./protocol/index.ts";
import { PublishWindow } from "./publish-window.ts";
import type { Publisher } from "./session.ts";
import type { OutboundStudy } from "./types.ts";

export interface TransferSettings {
  /** Data bytes per chunk (1024 … MAX_CHUNK_BYTES). */
  chunkSize: number;
  /** Chunk publishes awaiting PUBACK at once. */
  window: number;
  /** How long to wait for the commit-ack after the broker acknowledged the commit. */
  ackTimeoutMs: number;
  /** Send the study's previews ahead of its data. */
  sendPreviews: boolean;
  /** Largest preview sent (bytes); larger ones are skipped. */
  maxPreviewBytes: number;
}

export interface TransferDeps extends TransferSettings {
  session: Publisher;
  /** Paces every publish against the uplink budget; none = unlimited. */
  budget?: { take(bytes: number, signal?: AbortSignal): Promise<void> };
  site: SiteAddress;
  acks: CommitAckRegistry;
  log: Logger;
}

export interface TransferResult {
  transferId: string;
  /** SOP Instance UIDs the reading centre holds durably and verified (every instance of the study). */
  stored: string[];
  bytes: number;
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

  const manifestPayload = buildManifest(outbound, transferId, deps.chunkSize);
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
    // close to cross-topic order as 3.1.1 gets (if a chunk still overtakes it, the commit-ack lists
    // the instance as missing and the study is retried).
    await publish("manifest", manifestPayload);
    let bytes = 0;
    const window = new PublishWindow(deps.window);
    for (const instance of outbound.instances) {
      for await (const chunk of readChunks(instance, deps.chunkSize)) {
        const payload = encodeChunk(
          { transferId, sopInstanceUid: instance.sopInstanceUid, offset: chunk.offset },
          chunk.data,
        );
        await window.add(() => publish("chunk", payload));
        bytes += chunk.data.length;
      }
    }
    // Every chunk must be PUBACKed before the commit goes, for the same ordering reason.
    await window.drain();
    const commit: CommitMessage = {
      v: 1,
      type: "commit",
      sentAt: new Date().toISOString(),
      transferId,
      studyInstanceUid,
      instanceCount: outbound.instances.length,
    };
    await publish("commit", encodeJsonMessage(commit));
    log.debug({ bytes, previews, ms: Date.now() - started }, "study sent; waiting for commit-ack");

    // From here the link may drop and come back: the broker keeps the commit-ack for our persistent
    // session [MQTT-3.1.2-5]. Only the timeout, a stop, or a lost session end the wait.
    const ack = await waitForAck(expected, deps.ackTimeoutMs, signal);
    return { transferId, stored: acceptedInstances(ack, outbound), bytes, previews };
  } finally {
    expected.cancel();
  }
}

function buildManifest(outbound: OutboundStudy, transferId: string, chunkSize: number): Buffer {
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
  const payload = encodeJsonMessage(manifest);
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

function waitForAck(
  expected: ExpectedAck,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<CommitAckMessage> {
  return new Promise<CommitAckMessage>((resolve, reject) => {
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
      reject(uploadError(UPLOAD_ERRORS.ackTimeout, `no commit-ack within ${timeoutMs} ms`));
    }, timeoutMs);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    void expected.promise.then((ack) => {
      done();
      resolve(ack);
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
