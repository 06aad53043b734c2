/**
 * Turning a committed transfer into stored instances: assemble each instance from its staged chunks,
 * verify the whole file against the manifest's SHA-256, fsync it, move it into the content store,
 * and record the study durably. Nothing is reported as stored before both the file and the index
 * entry are on disk.
 *
 * Every verified instance is stored even when others are missing; the study record then says
 * `complete: false` until a later commit brings the rest (the box resends only what is missing).
 */
import type { InstanceDescriptor, ManifestMessage } from "../../uploader/protocol/index.ts";
import { coveredBytes } from "../../uploader/protocol/index.ts";
import type { InstanceRecord, StudyRecord } from "../store/types.ts";
import type { ReceiverContext } from "./context.ts";
import type { StagedTransfer } from "./staging.ts";

export interface IngestResult {
  stored: string[];
  missing: string[];
}

export interface IngestOptions {
  /**
   * How long to wait for chunks still being written (by chunk workers of a scaled-out county) when
   * ranges are missing at the commit: give up after `settleMs` without progress, or `maxWaitMs` in all.
   */
  settleMs: number;
  maxWaitMs: number;
  pollMs: number;
}

export const DEFAULT_INGEST_OPTIONS: Readonly<IngestOptions> = Object.freeze({
  settleMs: 2000,
  maxWaitMs: 10_000,
  pollMs: 100,
});

type Outcome =
  | { held: true; record: InstanceRecord; replaced?: string }
  | { held: false; reason: "absent" | "incomplete" | "sha256" };

export async function ingestTransfer(
  ctx: ReceiverContext,
  transfer: StagedTransfer,
  options: IngestOptions = DEFAULT_INGEST_OPTIONS,
): Promise<IngestResult> {
  const { siteId, manifest } = transfer;
  const existing = ctx.studies.get({ siteId, studyInstanceUid: manifest.study.studyInstanceUid });
  const held = new Map((existing?.instances ?? []).map((i) => [i.sopInstanceUid, i]));
  const result: IngestResult = { stored: [], missing: [] };
  const replacedShas: string[] = [];
  let changed = false;

  // Content the store already has needs no staged bytes (see ingestInstance).
  const toStage: InstanceDescriptor[] = [];
  for (const descriptor of manifest.instances) {
    if (!(await ctx.instances.has(descriptor.sha256, descriptor.size))) toStage.push(descriptor);
  }
  await awaitChunks(ctx, siteId, toStage, options);

  for (const descriptor of manifest.instances) {
    const outcome = await ingestInstance(ctx, transfer, descriptor, held.get(descriptor.sopInstanceUid));
    const fields = { siteId, transferId: transfer.transferId, sopInstanceUid: descriptor.sopInstanceUid };
    if (!outcome.held) {
      ctx.log.warn({ ...fields, reason: outcome.reason }, "instance missing at commit");
      result.missing.push(descriptor.sopInstanceUid);
      continue;
    }
    result.stored.push(descriptor.sopInstanceUid);
    if (held.get(descriptor.sopInstanceUid) !== outcome.record) {
      held.set(descriptor.sopInstanceUid, outcome.record);
      changed = true;
    }
    if (outcome.replaced) {
      ctx.log.warn(fields, "stored instance replaced by a resent version with different content");
      replacedShas.push(outcome.replaced);
    }
  }

  // A known study is saved even when no instance changed: the box's latest description may have.
  if (changed || existing) {
    const study = existing ?? newStudy(ctx.countyId, siteId, manifest);
    applyManifest(study, manifest);
    // Keep the study's own order: instances already held first, newly stored ones after.
    study.instances = [...held.values()];
    study.complete = result.missing.length === 0;
    await ctx.studies.save(study);
  }
  // Old versions go only once the index no longer points at them (and no other study shares them).
  for (const sha of replacedShas) {
    if (ctx.studies.shaReferences(sha) === 0) await ctx.instances.remove(sha);
  }
  return result;
}

/**
 * Wait (bounded) until every instance's bytes are staged. In one process chunks are handled before
 * the commit that follows them, so this returns at once or after `settleMs`; with chunk workers,
 * the last chunks may still be on their way to disk when the commit arrives.
 */
async function awaitChunks(
  ctx: ReceiverContext,
  siteId: string,
  instances: InstanceDescriptor[],
  options: IngestOptions,
): Promise<void> {
  const started = Date.now();
  let lastProgress = started;
  let pending = instances;
  let completeBytes = 0;
  let best = -1;
  for (;;) {
    // Only instances still incomplete are looked at again (a readdir each).
    let covered = 0;
    const incomplete: InstanceDescriptor[] = [];
    for (const instance of pending) {
      const bytes = coveredBytes(await ctx.staging.held(siteId, instance));
      if (bytes >= instance.size) completeBytes += instance.size;
      else {
        covered += bytes;
        incomplete.push(instance);
      }
    }
    if (incomplete.length === 0) return;
    const now = Date.now();
    const total = completeBytes + covered;
    if (total > best) {
      if (best >= 0) lastProgress = now;
      best = total;
    }
    if (now - lastProgress >= options.settleMs || now - started >= options.maxWaitMs) {
      ctx.log.info(
        { siteId, waitedMs: now - started, incomplete: incomplete.length },
        "commit: ranges still missing after waiting",
      );
      return;
    }
    pending = incomplete;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
}

async function ingestInstance(
  ctx: ReceiverContext,
  transfer: StagedTransfer,
  descriptor: InstanceDescriptor,
  current: InstanceRecord | undefined,
): Promise<Outcome> {
  const { siteId } = transfer;
  const { sha256, size } = descriptor;
  // Idempotent: the same content already recorded for this instance counts as stored, once.
  if (current && current.sha256 === sha256 && (await ctx.instances.has(sha256, size))) {
    return { held: true, record: current };
  }
  const replaced = current && current.sha256 !== sha256 ? current.sha256 : undefined;
  const record = toRecord(descriptor);
  const stored = replaced ? { held: true as const, record, replaced } : { held: true as const, record };
  // The content store may already hold these exact bytes (an earlier transfer stored the file but
  // stopped before its index entry; or another site sent the same file): the name proves the content.
  if (await ctx.instances.has(sha256, size)) {
    await ctx.staging.removeContent(siteId, descriptor);
    return stored;
  }
  const assembled = await ctx.staging.assemble(siteId, descriptor);
  if (assembled.status === "ok") {
    await ctx.instances.adopt(assembled.path, sha256);
    await ctx.staging.removeContent(siteId, descriptor);
    return stored;
  }
  if (assembled.status === "gap") {
    const heldBytes = coveredBytes(await ctx.staging.held(siteId, descriptor));
    return { held: false, reason: heldBytes === 0 ? "absent" : "incomplete" };
  }
  // The pieces do not add up: find the chunks that are not what their names say, and drop them.
  const { bad, removedBytes } = await ctx.staging.discardBadChunks(siteId, descriptor);
  ctx.log.warn(
    {
      siteId,
      transferId: transfer.transferId,
      sopInstanceUid: descriptor.sopInstanceUid,
      code: "CONTENT_MISMATCH",
      badChunks: bad,
      removedBytes,
    },
    bad > 0
      ? "staged chunks failed verification, removed"
      : "staged chunks do not make the file, all removed",
  );
  return { held: false, reason: "sha256" };
}

function toRecord(descriptor: InstanceDescriptor): InstanceRecord {
  return {
    sopInstanceUid: descriptor.sopInstanceUid,
    sopClassUid: descriptor.sopClassUid,
    seriesInstanceUid: descriptor.seriesInstanceUid,
    transferSyntaxUid: descriptor.transferSyntaxUid,
    size: descriptor.size,
    sha256: descriptor.sha256,
    storedAt: new Date().toISOString(),
  };
}

function newStudy(countyId: string, siteId: string, manifest: ManifestMessage): StudyRecord {
  return {
    studyInstanceUid: manifest.study.studyInstanceUid,
    siteId,
    countyId,
    modality: "",
    modalities: [],
    priority: manifest.study.priority,
    state: "unread",
    receivedAt: new Date().toISOString(),
    boxReceivedAt: manifest.study.receivedAt,
    patient: { key: "", id: "", name: "", sex: "", age: "", birthDate: "" },
    studyDate: "",
    studyTime: "",
    studyDescription: "",
    accessionNumber: "",
    instances: [],
    complete: false,
    claimedBy: null,
    claimedAt: null,
    report: null,
  };
}

/** The box's latest description of the study wins (a corrected name, a raised priority). */
function applyManifest(study: StudyRecord, manifest: ManifestMessage): void {
  const s = manifest.study;
  study.modalities = [...s.modalities];
  study.modality = s.modalities.join("\\");
  study.priority = s.priority;
  study.patient = {
    key: `${study.siteId}/${s.patient.id}`,
    id: s.patient.id,
    name: s.patient.name,
    sex: s.patient.sex,
    age: s.patient.age,
    birthDate: s.patient.birthDate,
  };
  study.studyDate = s.studyDate;
  study.studyTime = s.studyTime;
  study.studyDescription = s.studyDescription;
  study.accessionNumber = s.accessionNumber;
}
