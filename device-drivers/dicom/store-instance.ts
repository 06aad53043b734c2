/**
 * The C-STORE service once the dataset is on disk (PS3.4 B.2.2): check it is the instance the
 * command announced, hand it to the sink, and turn the outcome into a DIMSE status. Only a sink's
 * `stored` or `duplicate` — the instance is durably held — becomes Success.
 */
import { type FileHandle, rm } from "node:fs/promises";
import type { Logger } from "../../common/logger.ts";
import type { InstanceAttributes, InstanceSink, InstanceSource, StoreResult } from "../types.ts";
import { type KnownFileStart, readInstanceAttributes } from "./attributes.ts";
import { STATUS } from "./constants.ts";
import { MalformedDatasetError } from "./dataset-scanner.ts";

export interface StagedInstance {
  /** The complete Part 10 file (the sink fsyncs it) (undefined when staging never got a path). */
  path: string | undefined;
  /** Why staging failed, if it did: the file is incomplete. */
  failure: Error | undefined;
  /** Dataset bytes received. */
  datasetBytes: number;
  /** The complete file, still open, when the stager kept it so (the caller then owns the handle). */
  takeHandle?(): FileHandle | undefined;
  /** The file's first bytes, as written (may be empty), and its whole size: read without re-reading the file. */
  head?: Uint8Array;
  size?: number;
}

export interface StoreRequest {
  /** The command's Affected SOP Class UID and Affected SOP Instance UID (PS3.7 9.1.1.1). */
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  source: InstanceSource;
}

/** The C-STORE-RSP Status and Error Comment (PS3.7 C.4, at most 64 characters). */
export interface StoreOutcome {
  status: number;
  errorComment: string;
}

/** Validate, store, and answer; never throws, never leaves a staging file it did not hand over. */
export async function storeInstance(
  staged: StagedInstance,
  request: StoreRequest,
  sink: InstanceSink,
  log: Logger,
): Promise<StoreOutcome> {
  const started = performance.now();
  const ids = { sopInstanceUid: request.sopInstanceUid, sopClassUid: request.sopClassUid };
  const path = staged.path;
  // Ours from here: handed to the sink with the instance, or closed on the way out.
  let handle = staged.takeHandle?.();
  const closeHandle = async () => {
    const open = handle;
    handle = undefined;
    await open?.close().catch(() => undefined);
  };
  if (!path || staged.failure) {
    log.error(
      { event: "store-staging-failed", ...ids, error: staged.failure?.message },
      "could not stage instance",
    );
    await closeHandle();
    await removeQuietly(path);
    // The errno code (e.g. ENOSPC: disk full or the sink's free-space reserve reached) tells the
    // modality's operator why without reading our log.
    const code = (staged.failure as NodeJS.ErrnoException | undefined)?.code;
    const errorComment = `dxgate: cannot stage instance${code ? ` (${code})` : ""}`.slice(0, 64);
    return { status: STATUS.outOfResources, errorComment };
  }

  const known =
    staged.head && staged.size !== undefined ? { head: staged.head, size: staged.size } : undefined;
  const checked = await checkInstance(path, request, known);
  if ("status" in checked) {
    log.warn({
      event: "store-rejected",
      ...ids,
      status: hexStatus(checked.status),
      why: checked.errorComment,
    });
    await closeHandle();
    await removeQuietly(path);
    return checked;
  }

  let result: StoreResult;
  const part10 = { kind: "file" as const, path, ...(handle ? { handle } : {}) };
  handle = undefined; // the sink's from the call on, whatever it answers
  try {
    result = await sink.store({ attributes: checked.attributes, source: request.source, part10 });
  } catch (error) {
    log.error({ event: "store-sink-failed", ...ids, error: (error as Error).message }, "sink threw");
    await removeQuietly(path);
    return { status: STATUS.outOfResources, errorComment: "dxgate: storage failed" };
  }
  const outcome = outcomeOf(result);
  const fields = {
    ...ids,
    studyInstanceUid: checked.attributes.studyInstanceUid,
    transferSyntaxUid: request.transferSyntaxUid,
    bytes: staged.datasetBytes,
    result: result.status,
    status: hexStatus(outcome.status),
    ms: Math.round(performance.now() - started),
  };
  if (result.status === "refused") {
    log.warn(
      { ...fields, event: "store-refused", code: result.code, retryable: result.retryable },
      "sink refused",
    );
    // The sink owns the file from store() on; remove what it may have left at the staging path.
    await removeQuietly(path);
  } else {
    log.info({ ...fields, event: "instance-stored" }, "instance stored");
  }
  return outcome;
}

/**
 * PS3.4 B.2.3: Success only when durably held. A retryable refusal is Out of Resources (A700, the
 * SCU tries later); a final one is "Data Set does not match SOP Class" (A900) when the sink says so
 * by a code mentioning the SOP class, else "Cannot understand" (C000).
 */
export function outcomeOf(result: StoreResult): StoreOutcome {
  if (result.status === "stored" || result.status === "duplicate")
    return { status: STATUS.success, errorComment: "" };
  const errorComment = `dxgate: ${result.code}`.slice(0, 64);
  if (result.retryable) return { status: STATUS.outOfResources, errorComment };
  if (/sop[-_ ]?class/i.test(result.code))
    return { status: STATUS.dataSetDoesNotMatchSopClass, errorComment };
  return { status: STATUS.cannotUnderstand, errorComment };
}

/** Parse the stored file and compare it with the command (PS3.4 B.2.3 statuses A900 and Cxxx). */
async function checkInstance(
  path: string,
  request: StoreRequest,
  known: KnownFileStart | undefined,
): Promise<{ attributes: InstanceAttributes } | StoreOutcome> {
  let attributes: InstanceAttributes;
  try {
    attributes = await readInstanceAttributes(path, known);
  } catch (error) {
    if (error instanceof MalformedDatasetError) {
      return {
        status: STATUS.cannotUnderstandMalformed,
        errorComment: "dxgate: malformed or truncated dataset",
      };
    }
    return { status: STATUS.outOfResources, errorComment: "dxgate: cannot read staged instance" };
  }
  const missing = (["sopInstanceUid", "sopClassUid", "studyInstanceUid", "seriesInstanceUid"] as const).find(
    (key) => attributes[key] === "",
  );
  if (missing) {
    return { status: STATUS.cannotUnderstandMissingAttribute, errorComment: `dxgate: no ${missing}` };
  }
  if (attributes.sopInstanceUid !== request.sopInstanceUid) {
    return {
      status: STATUS.cannotUnderstandInstanceMismatch,
      errorComment: "dxgate: SOP Instance UID differs from command",
    };
  }
  if (attributes.sopClassUid !== request.sopClassUid) {
    return {
      status: STATUS.dataSetDoesNotMatchSopClass,
      errorComment: "dxgate: SOP Class UID differs from command",
    };
  }
  return { attributes };
}

async function removeQuietly(path: string | undefined): Promise<void> {
  if (path) await rm(path, { force: true }).catch(() => undefined);
}

function hexStatus(status: number): string {
  return `0x${status.toString(16).padStart(4, "0").toUpperCase()}`;
}
