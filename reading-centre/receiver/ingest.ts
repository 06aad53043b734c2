/**
 * Turning a committed transfer into stored instances: verify every staged file against the manifest
 * (size and SHA-256), fsync it, move it into the content store, and record the study durably.
 * Nothing is reported as stored before both the file and the index entry are on disk.
 */
import { fsyncFile } from "../../common/durable-file.ts";
import type { InstanceDescriptor, ManifestMessage } from "../../uploader/protocol/index.ts";
import type { InstanceRecord, StudyRecord } from "../store/types.ts";
import type { ReceiverContext } from "./context.ts";
import type { StagedTransfer } from "./staging.ts";

export interface IngestResult {
  stored: string[];
  missing: string[];
}

type Outcome =
  | { held: true; record: InstanceRecord; replaced?: string }
  | { held: false; reason: "absent" | "size" | "sha256" };

export async function ingestTransfer(ctx: ReceiverContext, transfer: StagedTransfer): Promise<IngestResult> {
  const { siteId, manifest } = transfer;
  const existing = ctx.studies.get({ siteId, studyInstanceUid: manifest.study.studyInstanceUid });
  const held = new Map((existing?.instances ?? []).map((i) => [i.sopInstanceUid, i]));
  const result: IngestResult = { stored: [], missing: [] };
  const replacedShas: string[] = [];
  let changed = false;

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

async function ingestInstance(
  ctx: ReceiverContext,
  transfer: StagedTransfer,
  descriptor: InstanceDescriptor,
  current: InstanceRecord | undefined,
): Promise<Outcome> {
  const { sha256, size } = descriptor;
  // Idempotent: the same content already recorded for this instance counts as stored, once.
  if (current && current.sha256 === sha256 && (await ctx.instances.has(sha256, size))) {
    return { held: true, record: current };
  }
  const staged = await ctx.staging.digest(transfer, descriptor.sopInstanceUid);
  const replaced = current && current.sha256 !== sha256 ? current.sha256 : undefined;
  const record = toRecord(descriptor);
  if (staged && staged.size === size && staged.sha256 === sha256) {
    const part = ctx.staging.partPath(transfer, descriptor.sopInstanceUid);
    await fsyncFile(part);
    await ctx.instances.adopt(part, sha256);
    return replaced ? { held: true, record, replaced } : { held: true, record };
  }
  // The content store may already hold these exact bytes (an earlier transfer stored the file but
  // stopped before its index entry; or another site sent the same file): the name proves the content.
  if (await ctx.instances.has(sha256, size)) {
    return replaced ? { held: true, record, replaced } : { held: true, record };
  }
  if (!staged) return { held: false, reason: "absent" };
  return { held: false, reason: staged.size !== size ? "size" : "sha256" };
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
