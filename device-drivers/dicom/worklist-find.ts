/**
 * Modality Worklist Information Model – FIND, as SCP (PS3.4 K.6): decode the C-FIND identifier into
 * a `WorklistQuery`, ask the `WorklistSource`, apply the matching rules, and answer one Pending
 * response per match, carrying only the keys the modality asked for, then Success.
 *
 * One instance per association (it remembers C-CANCELs by message ID).
 */
import type { requests, responses } from "dcmjs-dimse";
import dimse from "dcmjs-dimse";
import type { Logger } from "../../common/logger.ts";
import type { WorklistItem, WorklistQuery, WorklistSource } from "../types.ts";
import { MODALITY_WORKLIST_FIND, WORKLIST_STATUS } from "./worklist-constants.ts";
import { matchesWorklistQuery, parseRange } from "./worklist-matching.ts";

type CFindRequest = requests.CFindRequest;
type CFindResponse = responses.CFindResponse;
type Elements = Record<string, unknown>;

/** PS3.4 K.6.1.2.2: the Scheduled Procedure Step Sequence (0040,0100) holds the step's own keys. */
const STEP_SEQUENCE = "ScheduledProcedureStepSequence";

/** Top-level return keys we hold values for (dcmjs naturalized names → item fields). */
const TOP_LEVEL: Record<string, keyof WorklistItem> = {
  PatientName: "patientName",
  PatientID: "patientId",
  PatientBirthDate: "patientBirthDate",
  PatientSex: "patientSex",
  AccessionNumber: "accessionNumber",
  ReferringPhysicianName: "referringPhysicianName",
  RequestedProcedureID: "requestedProcedureId",
  RequestedProcedureDescription: "requestedProcedureDescription",
  StudyInstanceUID: "studyInstanceUid",
};

/** Keys of the Scheduled Procedure Step Sequence item we hold values for. */
const STEP: Record<string, keyof WorklistItem> = {
  Modality: "modality",
  ScheduledStationAETitle: "scheduledStationAeTitle",
  ScheduledProcedureStepStartDate: "scheduledProcedureStepStartDate",
  ScheduledProcedureStepStartTime: "scheduledProcedureStepStartTime",
  ScheduledProcedureStepID: "scheduledProcedureStepId",
  ScheduledProcedureStepDescription: "scheduledProcedureStepDescription",
};

const PERSON_NAME_KEYS = new Set(["PatientName", "ReferringPhysicianName"]);

/** Why a query is refused, and with which status (PS3.4 Table K.4-1 via C.4.1.1.4). */
class QueryRefused extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export class WorklistFindProvider {
  readonly #source: WorklistSource | undefined;
  readonly #log: Logger;
  readonly #cancelled = new Set<number>();

  constructor(source: WorklistSource | undefined, log: Logger) {
    this.#source = source;
    this.#log = log;
  }

  /**
   * PS3.7 9.3.2.3: C-CANCEL names the message ID of the C-FIND to stop. dcmjs-dimse sends a C-FIND's
   * responses together once our callback runs, so a cancel is honoured while the source is still
   * being searched; one arriving after that finds the operation already complete (PS3.7 allows it).
   */
  cancel(messageId: number): void {
    this.#cancelled.add(messageId);
  }

  /** Every response to one C-FIND, in order: Pending per match, then the final status. */
  async find(request: CFindRequest, callingAeTitle: string): Promise<CFindResponse[]> {
    const messageId = request.getMessageId();
    const final = (status: number, comment = ""): CFindResponse => {
      const response = dimse.responses.CFindResponse.fromRequest(request);
      response.setStatus(status);
      if (comment) response.setErrorComment(comment.slice(0, 64));
      return response;
    };
    const fields = { event: "worklist-find", callingAeTitle, messageId };
    try {
      if (request.getAffectedSopClassUid() !== MODALITY_WORKLIST_FIND) {
        throw new QueryRefused(WORKLIST_STATUS.sopClassNotSupported, "dxgate: only Modality Worklist FIND");
      }
      if (!this.#source) {
        throw new QueryRefused(WORKLIST_STATUS.sopClassNotSupported, "dxgate: no worklist configured");
      }
      const dataset = request.getDataset();
      if (!dataset)
        throw new QueryRefused(WORKLIST_STATUS.identifierDoesNotMatchSopClass, "dxgate: no identifier");
      const identifier = dataset.getElements();
      const query = decodeQuery(identifier);
      const candidates = await this.#source.find(query);
      if (this.#cancelled.delete(messageId)) {
        this.#log.info({ ...fields, status: "cancelled" }, "worklist query cancelled");
        return [final(WORKLIST_STATUS.cancel)];
      }
      const matches = candidates
        // An item scheduled for no particular station is offered to whichever station asks.
        .map((item) =>
          item.scheduledStationAeTitle ? item : { ...item, scheduledStationAeTitle: callingAeTitle },
        )
        .filter((item) => matchesWorklistQuery(item, query));
      const transferSyntaxUid = dataset.getTransferSyntaxUid();
      const responses = matches.map((item) => {
        const { elements, unsupported } = buildIdentifier(identifier, item);
        const response = final(unsupported ? WORKLIST_STATUS.pendingWarning : WORKLIST_STATUS.pending);
        response.setDataset(new dimse.Dataset(elements, transferSyntaxUid));
        return response;
      });
      this.#log.info({ ...fields, keys: queryKeyNames(query), matches: matches.length }, "worklist query");
      return [...responses, final(WORKLIST_STATUS.success)];
    } catch (error) {
      this.#cancelled.delete(messageId);
      if (error instanceof QueryRefused) {
        this.#log.warn({ ...fields, status: error.status, reason: error.message }, "worklist query refused");
        return [final(error.status, error.message)];
      }
      this.#log.error({ ...fields, error: String(error) }, "worklist query failed");
      return [final(WORKLIST_STATUS.unableToProcess, "dxgate: worklist unavailable")];
    }
  }
}

/** The match keys of a worklist identifier (PS3.4 K.6.1.2.2); zero-length keys are only returned. */
export function decodeQuery(identifier: Elements): WorklistQuery {
  const steps = identifier[STEP_SEQUENCE];
  if (steps !== undefined && !Array.isArray(steps)) {
    throw new QueryRefused(WORKLIST_STATUS.identifierDoesNotMatchSopClass, "dxgate: step sequence malformed");
  }
  // PS3.4 C.2.2.2.6: a sequence match key holds a single item.
  if (Array.isArray(steps) && steps.length > 1) {
    throw new QueryRefused(WORKLIST_STATUS.identifierDoesNotMatchSopClass, "dxgate: more than one step item");
  }
  const step = (Array.isArray(steps) ? (steps[0] ?? {}) : {}) as Elements;
  const query: WorklistQuery = {};
  const set = <K extends keyof WorklistQuery>(key: K, value: WorklistQuery[K] | undefined) => {
    if (value !== undefined) query[key] = value;
  };
  set("patientName", nonEmpty(personName(identifier.PatientName)));
  set("patientId", nonEmpty(text(identifier.PatientID)));
  set("accessionNumber", nonEmpty(text(identifier.AccessionNumber)));
  set("requestedProcedureId", nonEmpty(text(identifier.RequestedProcedureID)));
  set("studyInstanceUid", nonEmpty(text(identifier.StudyInstanceUID)));
  set("modality", nonEmpty(text(step.Modality)));
  set("scheduledStationAeTitle", nonEmpty(text(step.ScheduledStationAETitle)));
  set("scheduledProcedureStepId", nonEmpty(text(step.ScheduledProcedureStepID)));
  try {
    set("scheduledProcedureStepStartDate", parseRange(text(step.ScheduledProcedureStepStartDate), "DA"));
    set("scheduledProcedureStepStartTime", parseRange(text(step.ScheduledProcedureStepStartTime), "TM"));
  } catch (error) {
    throw new QueryRefused(WORKLIST_STATUS.unableToProcess, `dxgate: ${(error as Error).message}`);
  }
  return query;
}

/**
 * A response identifier: exactly the keys of the request (PS3.4 C.4.1.1.3.2), filled from the item,
 * plus Specific Character Set, which is always UTF-8 since names may be Chinese (PS3.5 6.1.2.5.3). A
 * requested key we hold nothing for is returned zero-length and flagged, so the response becomes
 * Pending with warning FF01 (PS3.4 C.4.1.1.4: optional keys not supported).
 */
export function buildIdentifier(
  identifier: Elements,
  item: WorklistItem,
): { elements: Elements; unsupported: boolean } {
  let unsupported = false;
  const fill = (keys: Elements, known: Record<string, keyof WorklistItem>): Elements => {
    const out: Elements = {};
    for (const [key, queried] of Object.entries(keys)) {
      if (key === "_vrMap" || key === "SpecificCharacterSet" || !isStandardKeyword(key)) continue;
      const field = known[key];
      if (field !== undefined)
        out[key] = PERSON_NAME_KEYS.has(key) ? dcmjsPersonName(item[field]) : item[field];
      else if (key !== STEP_SEQUENCE) {
        unsupported = true;
        out[key] = Array.isArray(queried) && queried.every((v) => typeof v === "object") ? [] : "";
      }
    }
    return out;
  };
  const elements: Elements = { SpecificCharacterSet: "ISO_IR 192", ...fill(identifier, TOP_LEVEL) };
  const steps = identifier[STEP_SEQUENCE];
  if (Array.isArray(steps)) {
    // PS3.4 C.2.2.2.6: a sequence key with no item asks for the whole item (universal matching).
    const requested =
      (steps[0] as Elements | undefined) ?? Object.fromEntries(Object.keys(STEP).map((k) => [k, ""]));
    elements[STEP_SEQUENCE] = [fill(requested, STEP)];
  }
  return { elements, unsupported };
}

/** dcmjs names standard attributes by keyword and private or unknown ones by their hex tag. */
function isStandardKeyword(key: string): boolean {
  return /^[A-Za-z][A-Za-z0-9]*$/.test(key) && !/^[0-9A-Fa-f]{8}$/.test(key);
}

/** dcmjs gives PN as `[{ Alphabetic, Ideographic, Phonetic }]`: back to the `A=I=P` form. */
function personName(value: unknown): string {
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined || first === null) return "";
  if (typeof first === "string") return first;
  const { Alphabetic = "", Ideographic = "", Phonetic = "" } = first as Record<string, string>;
  return [Alphabetic, Ideographic, Phonetic].join("=").replace(/=+$/, "");
}

/** The reverse, for writing: dcmjs encodes a PN from its component groups. */
function dcmjsPersonName(value: string): Array<Record<string, string>> | string {
  if (value === "") return "";
  const [Alphabetic = "", Ideographic, Phonetic] = value.split("=");
  return [
    {
      Alphabetic,
      ...(Ideographic !== undefined ? { Ideographic } : {}),
      ...(Phonetic !== undefined ? { Phonetic } : {}),
    },
  ];
}

function text(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.map((v) => String(v)).join("\\");
  return String(value);
}

function nonEmpty(value: string): string | undefined {
  return value.trim() === "" ? undefined : value.trim();
}

/** The names (never the values: they are patient data) of the keys a query matched on. */
function queryKeyNames(query: WorklistQuery): string[] {
  return Object.keys(query);
}
