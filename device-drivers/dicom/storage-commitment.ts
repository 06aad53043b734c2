/**
 * Storage Commitment Push Model SCP (PS3.4 Annex J): answer N-ACTION "Request Storage Commitment",
 * decide per referenced instance whether we hold it (asking the CommitmentSource, waiting a bounded
 * time for "pending" ones), then send the N-EVENT-REPORT — on the requesting association if it is
 * still open, otherwise on a new association we open to the modality (PS3.4 J.3.3).
 *
 * Pending results live in memory: after a restart the modality simply asks again (PS3.4 J.3.3.1
 * lets the SCU re-send a request whose result it did not get).
 */
import { isIP } from "node:net";
import type { requests, responses } from "dcmjs-dimse";
import dimse from "dcmjs-dimse";
import type { Logger } from "../../common/logger.ts";
import type { CommitmentSource, CommitmentStatus } from "../types.ts";
import type { KnownDevice } from "./admission.ts";
import { normalizeAddress } from "./admission.ts";
import { SOP_CLASS, STATUS, TRANSFER_SYNTAX } from "./constants.ts";

type NActionRequest = requests.NActionRequest;
type NActionResponse = responses.NActionResponse;
type NEventReportRequest = requests.NEventReportRequest;

/** PS3.4 J.3.2.1 action type 1; PS3.4 J.3.3.1 event types 1 (all succeeded) and 2 (some failed). */
const ACTION_REQUEST_STORAGE_COMMITMENT = 1;
const EVENT_SUCCESS = 1;
const EVENT_FAILURES = 2;

/** N-ACTION statuses (PS3.7 Table 10.1-4) and Failure Reasons (PS3.4 J.3.3.1, (0008,1197)). */
const N_STATUS = {
  processingFailure: 0x0110,
  noSuchObjectInstance: 0x0112,
  invalidArgumentValue: 0x0115,
  noSuchSopClass: 0x0118,
  classInstanceConflict: 0x0119,
  noSuchActionType: 0x0123,
  duplicateTransactionUid: 0x0131,
} as const;

export interface CommitmentChannel {
  callingAeTitle: string;
  remoteAddress: string;
  device: KnownDevice | undefined;
  /** Send on the requesting association; false when it is no longer open. */
  sendOnAssociation(request: NEventReportRequest): boolean;
}

export interface StorageCommitmentOptions {
  source: CommitmentSource;
  /** Our AE title: the Calling AE of the association we open to report. */
  aeTitle: string;
  log: Logger;
  /** How long "pending" instances are waited for before they are reported failed; default 1 h. */
  waitMs?: number;
  /** How often pending instances are asked about again; default 5 s. */
  pollMs?: number;
  /** Delays before each new attempt to deliver the report on a new association. */
  replyRetryDelaysMs?: readonly number[];
  /** Connect and association timeout of that association; default 10 s. */
  replyTimeoutMs?: number;
}

interface Reference {
  sopClassUid: string;
  sopInstanceUid: string;
}

interface Outcome {
  succeeded: Reference[];
  failed: Array<Reference & { reason: number }>;
}

export class StorageCommitmentScp {
  readonly #o: StorageCommitmentOptions;
  readonly #log: Logger;
  /** Transaction UIDs being worked on (PS3.4 J.3.3.1: a UID in use is failure 0131H). */
  readonly #active = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(options: StorageCommitmentOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: "storage-commitment" });
  }

  /** Handle one N-ACTION; the response goes out at once, the report later. */
  nAction(request: NActionRequest, respond: (response: NActionResponse) => void, channel: CommitmentChannel) {
    const response = dimse.responses.NActionResponse.fromRequest(request);
    const fail = (status: number, comment: string) => {
      response.setStatus(status);
      response.setErrorComment(comment);
      respond(response);
    };
    if (request.getRequestedSopClassUid() !== SOP_CLASS.storageCommitmentPushModel)
      return fail(N_STATUS.noSuchSopClass, "not the Storage Commitment Push Model");
    if (request.getActionTypeId() !== ACTION_REQUEST_STORAGE_COMMITMENT)
      return fail(N_STATUS.noSuchActionType, "action type must be 1");
    const parsed = parseRequest(request.getDataset()?.getElements() ?? {});
    if (typeof parsed === "string") return fail(N_STATUS.invalidArgumentValue, parsed);
    response.setStatus(STATUS.success);
    respond(response);

    const { transactionUid, references } = parsed;
    const fields = {
      event: "commitment-requested",
      callingAeTitle: channel.callingAeTitle,
      remoteAddress: channel.remoteAddress,
      transactionUid,
      instances: references.length,
    };
    this.#log.info(fields, "storage commitment requested");
    const duplicate = this.#active.has(transactionUid);
    if (!duplicate) this.#active.add(transactionUid);
    const work = duplicate
      ? Promise.resolve<Outcome>({
          succeeded: [],
          failed: references.map((r) => ({ ...r, reason: N_STATUS.duplicateTransactionUid })),
        })
      : this.#evaluate(references);
    void work
      .then((outcome) => this.#report(transactionUid, outcome, channel))
      .catch((error: unknown) =>
        this.#log.error({ event: "commitment-failed", transactionUid, error: String(error) }),
      )
      .finally(() => {
        if (!duplicate) this.#active.delete(transactionUid);
      });
  }

  /** Forget pending waits and retries (on service stop). */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  async #evaluate(references: Reference[]): Promise<Outcome> {
    const deadline = Date.now() + (this.#o.waitMs ?? 3_600_000);
    const outcome: Outcome = { succeeded: [], failed: [] };
    let pending = references;
    for (;;) {
      const stillPending: Reference[] = [];
      for (const reference of pending) {
        const status: CommitmentStatus = await this.#o.source.status(
          reference.sopInstanceUid,
          reference.sopClassUid,
        );
        if (status === "committed") outcome.succeeded.push(reference);
        else if (status === "pending") stillPending.push(reference);
        else
          outcome.failed.push({
            ...reference,
            reason: status === "conflict" ? N_STATUS.classInstanceConflict : N_STATUS.noSuchObjectInstance,
          });
      }
      pending = stillPending;
      if (pending.length === 0 || this.#stopped || Date.now() >= deadline) break;
      await this.#sleep(Math.min(this.#o.pollMs ?? 5_000, Math.max(0, deadline - Date.now())));
    }
    // PS3.4 J.3.3.1: 0110H processing failure; the SCU may request commitment again later.
    for (const reference of pending)
      outcome.failed.push({ ...reference, reason: N_STATUS.processingFailure });
    return outcome;
  }

  async #report(transactionUid: string, outcome: Outcome, channel: CommitmentChannel): Promise<void> {
    if (this.#stopped) return;
    const fields = {
      callingAeTitle: channel.callingAeTitle,
      transactionUid,
      succeeded: outcome.succeeded.length,
      failed: outcome.failed.length,
    };
    if (channel.sendOnAssociation(buildEventReport(transactionUid, outcome))) {
      this.#log.info({ ...fields, event: "commitment-reported", via: "same-association" });
      return;
    }
    const target = replyTarget(channel);
    if (!target) {
      this.#log.warn(
        { ...fields, event: "commitment-unreported", why: "association closed and no port configured" },
        "cannot deliver the storage commitment result",
      );
      return;
    }
    const delays = [0, ...(this.#o.replyRetryDelaysMs ?? [5_000, 30_000, 120_000, 600_000])];
    for (const [attempt, delay] of delays.entries()) {
      if (delay > 0) await this.#sleep(delay);
      if (this.#stopped) return;
      const error = await this.#sendOnNewAssociation(
        target,
        channel.callingAeTitle,
        buildEventReport(transactionUid, outcome),
      );
      if (!error) {
        this.#log.info({ ...fields, event: "commitment-reported", via: "new-association", ...target });
        return;
      }
      this.#log.warn({ ...fields, event: "commitment-report-failed", attempt: attempt + 1, error });
    }
  }

  /** PS3.4 J.3.3: we open the association as SCU of N-EVENT-REPORT; resolves with an error or undefined. */
  #sendOnNewAssociation(
    target: { host: string; port: number },
    calledAeTitle: string,
    request: NEventReportRequest,
  ): Promise<string | undefined> {
    return new Promise((resolve) => {
      const client = new dimse.Client();
      let outcome: string | undefined = "no N-EVENT-REPORT-RSP";
      request.on("response", (response: responses.NEventReportResponse) => {
        const status = response.getStatus();
        outcome =
          status === STATUS.success ? undefined : `N-EVENT-REPORT-RSP status 0x${status.toString(16)}`;
      });
      client.on("associationRejected", () => {
        outcome = "association rejected";
      });
      client.on("networkError", (error: Error) => {
        outcome = error.message;
      });
      client.on("closed", () => resolve(outcome));
      client.addRequest(request);
      const timeout = this.#o.replyTimeoutMs ?? 10_000;
      try {
        client.send(target.host, target.port, this.#o.aeTitle, calledAeTitle, {
          connectTimeout: timeout,
          associationTimeout: timeout,
          pduTimeout: timeout,
        });
      } catch (error) {
        resolve(String(error));
      }
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      this.#timers.add(timer);
    });
  }
}

/**
 * Where to report when the requesting association is gone: the device's configured port at the
 * address the request came from (the modality passed the allow-list from there).
 */
function replyTarget(channel: CommitmentChannel): { host: string; port: number } | undefined {
  const port = channel.device?.port;
  const host = normalizeAddress(channel.remoteAddress);
  if (!port || isIP(host) === 0) return undefined;
  return { host, port };
}

/** PS3.4 Table J.3-1: Transaction UID (0008,1195) and Referenced SOP Sequence (0008,1199). */
function parseRequest(
  elements: Record<string, unknown>,
): { transactionUid: string; references: Reference[] } | string {
  const transactionUid = elements.TransactionUID;
  if (typeof transactionUid !== "string" || transactionUid.length === 0) return "Transaction UID missing";
  const sequence = elements.ReferencedSOPSequence;
  const items = Array.isArray(sequence) ? sequence : sequence ? [sequence] : [];
  if (items.length === 0) return "Referenced SOP Sequence missing or empty";
  const references: Reference[] = [];
  for (const item of items as Array<Record<string, unknown>>) {
    const sopClassUid = item?.ReferencedSOPClassUID;
    const sopInstanceUid = item?.ReferencedSOPInstanceUID;
    if (typeof sopClassUid !== "string" || typeof sopInstanceUid !== "string" || !sopInstanceUid)
      return "Referenced SOP Sequence item without SOP Class or Instance UID";
    references.push({ sopClassUid, sopInstanceUid });
  }
  return { transactionUid, references };
}

/** PS3.4 Table J.3-2: event type 1 lists successes; type 2 adds the Failed SOP Sequence. */
function buildEventReport(transactionUid: string, outcome: Outcome): NEventReportRequest {
  const eventType = outcome.failed.length === 0 ? EVENT_SUCCESS : EVENT_FAILURES;
  const request = new dimse.requests.NEventReportRequest(
    SOP_CLASS.storageCommitmentPushModel,
    SOP_CLASS.storageCommitmentPushModelInstance,
    eventType,
  );
  const elements: Record<string, unknown> = { TransactionUID: transactionUid };
  if (outcome.succeeded.length > 0)
    elements.ReferencedSOPSequence = outcome.succeeded.map((r) => ({
      ReferencedSOPClassUID: r.sopClassUid,
      ReferencedSOPInstanceUID: r.sopInstanceUid,
    }));
  if (outcome.failed.length > 0)
    elements.FailedSOPSequence = outcome.failed.map((r) => ({
      ReferencedSOPClassUID: r.sopClassUid,
      ReferencedSOPInstanceUID: r.sopInstanceUid,
      FailureReason: r.reason,
    }));
  request.setDataset(new dimse.Dataset(elements, TRANSFER_SYNTAX.implicitVrLittleEndian));
  return request;
}
