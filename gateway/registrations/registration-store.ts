/**
 * The box's registrations: one JSON file per registration (`<dataDir>/registrations/<id>.json`),
 * each written durably before the API answers, all held in memory once loaded. Implements the
 * drivers' `WorklistSource`, so modalities see today's registrations as worklist items.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileDurable } from "../../common/durable-file.ts";
import type { Logger } from "../../common/logger.ts";
import type { WorklistItem, WorklistQuery, WorklistSource } from "../../device-drivers/index.ts";
import { gatewayError } from "../errors.ts";
import {
  localDate,
  localTime,
  type Registration,
  type RegistrationInput,
  type RegistrationState,
  uidFromUuid,
} from "./registration.ts";

export interface RegistrationStoreOptions {
  dataDir: string;
  log: Logger;
  /** true: a registration expires at the end of its scheduled local day; false: after retentionHours. */
  expireAtEndOfDay: boolean;
  retentionHours: number;
  /** The state of a study at the box, to tell when a registration's examination is complete. */
  studyState?: (studyInstanceUid: string) => string | undefined;
  now?: () => Date;
}

/** Study states past "stored": the modality stopped sending and the study is on its way. */
const STUDY_DONE = new Set(["queued", "uploading", "delivered", "reported"]);

export type RegistrationView = Omit<Registration, "state"> & { state: RegistrationState };

export class RegistrationStore implements WorklistSource {
  readonly #o: RegistrationStoreOptions;
  readonly #dir: string;
  readonly #byId = new Map<string, Registration>();

  constructor(options: RegistrationStoreOptions) {
    this.#o = options;
    this.#dir = join(options.dataDir, "registrations");
  }

  #now(): Date {
    return this.#o.now ? this.#o.now() : new Date();
  }

  async open(): Promise<{ registrations: number }> {
    await mkdir(this.#dir, { recursive: true });
    for (const name of await readdir(this.#dir)) {
      if (!name.endsWith(".json") || name.startsWith(".")) continue;
      try {
        const registration = JSON.parse(await readFile(join(this.#dir, name), "utf8")) as Registration;
        this.#byId.set(registration.registrationId, registration);
      } catch (error) {
        // A file we cannot read is left in place for a person to look at; the rest still load.
        this.#o.log.error({ err: error, file: name }, "registration file unreadable");
      }
    }
    return { registrations: this.#byId.size };
  }

  /** Register a patient; resolves once the registration is durable. */
  async create(input: RegistrationInput): Promise<RegistrationView> {
    const now = this.#now();
    const scheduledAt = input.scheduledAt ?? now;
    if (input.accessionNumber !== undefined) {
      const clash = [...this.#byId.values()].find(
        (r) => r.accessionNumber === input.accessionNumber && this.#state(r, now) !== "expired",
      );
      if (clash) {
        throw gatewayError("ACCESSION_NUMBER_IN_USE", "another open registration has this accession number", {
          field: "accessionNumber",
          registrationId: clash.registrationId,
        });
      }
    }
    // Reserve the identifiers in memory before the first await, so concurrent requests differ.
    const serial = this.#nextSerial(localDate(now).slice(2));
    const registration: Registration = {
      registrationId: randomUUID(),
      patientId: input.patientId,
      patientName: input.patientName,
      patientSex: input.patientSex,
      patientBirthDate: input.patientBirthDate,
      modality: input.modality,
      // SH, 16 characters at most (PS3.5 6.2): A + YYMMDD + 4 digits.
      accessionNumber: input.accessionNumber ?? `A${serial}`,
      procedureDescription: input.procedureDescription ?? "",
      referringPhysician: input.referringPhysician ?? "",
      scheduledStationAeTitle: input.scheduledStationAeTitle ?? "",
      requestedProcedureId: `RP${serial}`,
      scheduledProcedureStepId: `SPS${serial}`,
      studyInstanceUid: uidFromUuid(randomUUID()),
      scheduledAt: scheduledAt.toISOString(),
      registeredAt: now.toISOString(),
      expiresAt: this.#expiry(scheduledAt).toISOString(),
      state: "scheduled",
      studyInstanceUids: [],
      firstInstanceAt: null,
    };
    this.#byId.set(registration.registrationId, registration);
    try {
      await this.#save(registration);
    } catch (error) {
      this.#byId.delete(registration.registrationId);
      throw error;
    }
    this.#o.log.info(
      { registrationId: registration.registrationId, studyInstanceUid: registration.studyInstanceUid },
      "patient registered",
    );
    return this.#view(registration, now);
  }

  get(registrationId: string): RegistrationView | undefined {
    const registration = this.#byId.get(registrationId);
    return registration ? this.#view(registration, this.#now()) : undefined;
  }

  /** Today's registrations (scheduled today, local time) and any still open, earliest first. */
  listToday(): RegistrationView[] {
    const now = this.#now();
    const today = localDate(now);
    return [...this.#byId.values()]
      .filter((r) => localDate(new Date(r.scheduledAt)) === today || this.#state(r, now) !== "expired")
      .sort((a, b) => a.scheduledAt.localeCompare(b.scheduledAt))
      .map((r) => this.#view(r, now));
  }

  /** WorklistSource: the open registrations (not expired, not completed); the SCP does the matching. */
  async find(_query: WorklistQuery): Promise<WorklistItem[]> {
    const now = this.#now();
    return [...this.#byId.values()]
      .filter((r) => {
        const state = this.#state(r, now);
        return state === "scheduled" || state === "in-progress";
      })
      .map(toWorklistItem);
  }

  /**
   * The registration an arriving instance belongs to: by the Study Instance UID the box pre-assigned,
   * else by accession number (a modality may start its own study but keeps the accession number from
   * the worklist). The newest open registration wins when several share an accession number.
   */
  match(studyInstanceUid: string, accessionNumber: string): Registration | undefined {
    const all = [...this.#byId.values()];
    const byUid = all.find((r) => r.studyInstanceUid === studyInstanceUid);
    if (byUid) return byUid;
    if (accessionNumber.trim() === "") return undefined;
    return all
      .filter((r) => r.accessionNumber === accessionNumber.trim())
      .sort((a, b) => b.registeredAt.localeCompare(a.registeredAt))[0];
  }

  /** Record that a study arrived for this registration; durable in the background (logged on error). */
  markArrived(registration: Registration, studyInstanceUid: string): void {
    if (registration.studyInstanceUids.includes(studyInstanceUid)) return;
    registration.studyInstanceUids.push(studyInstanceUid);
    registration.state = "in-progress";
    registration.firstInstanceAt ??= this.#now().toISOString();
    this.#o.log.info(
      { registrationId: registration.registrationId, studyInstanceUid },
      "study linked to registration",
    );
    this.#save(registration).catch((error: unknown) =>
      this.#o.log.error(
        { err: error, registrationId: registration.registrationId },
        "registration write failed",
      ),
    );
  }

  #state(registration: Registration, now: Date): RegistrationState {
    if (registration.state === "in-progress") {
      const done = registration.studyInstanceUids.some((uid) =>
        STUDY_DONE.has(this.#o.studyState?.(uid) ?? ""),
      );
      return done ? "completed" : "in-progress";
    }
    return now.getTime() >= Date.parse(registration.expiresAt) ? "expired" : "scheduled";
  }

  #view(registration: Registration, now: Date): RegistrationView {
    return { ...registration, state: this.#state(registration, now) };
  }

  #expiry(scheduledAt: Date): Date {
    if (!this.#o.expireAtEndOfDay)
      return new Date(scheduledAt.getTime() + this.#o.retentionHours * 3_600_000);
    // Midnight after the scheduled local day (Date normalises day + 1 across month ends).
    return new Date(scheduledAt.getFullYear(), scheduledAt.getMonth(), scheduledAt.getDate() + 1);
  }

  /** YYMMDD + a 4-digit count, unused by any registration's identifiers (unique per box). */
  #nextSerial(day: string): string {
    const used = new Set<string>();
    for (const r of this.#byId.values()) {
      used.add(r.requestedProcedureId.slice(2));
      used.add(r.accessionNumber.slice(1));
    }
    for (let n = 1; ; n += 1) {
      const serial = `${day}${String(n).padStart(4, "0")}`;
      if (!used.has(serial)) return serial;
    }
  }

  #save(registration: Registration): Promise<void> {
    return writeFileDurable(
      join(this.#dir, `${registration.registrationId}.json`),
      `${JSON.stringify(registration, null, 1)}\n`,
    );
  }
}

function toWorklistItem(r: Registration): WorklistItem {
  const at = new Date(r.scheduledAt);
  return {
    patientName: r.patientName,
    patientId: r.patientId,
    patientBirthDate: r.patientBirthDate,
    patientSex: r.patientSex,
    accessionNumber: r.accessionNumber,
    referringPhysicianName: r.referringPhysician,
    requestedProcedureId: r.requestedProcedureId,
    requestedProcedureDescription: r.procedureDescription,
    studyInstanceUid: r.studyInstanceUid,
    modality: r.modality,
    scheduledStationAeTitle: r.scheduledStationAeTitle,
    scheduledProcedureStepStartDate: localDate(at),
    scheduledProcedureStepStartTime: localTime(at),
    scheduledProcedureStepId: r.scheduledProcedureStepId,
    scheduledProcedureStepDescription: r.procedureDescription,
  };
}
