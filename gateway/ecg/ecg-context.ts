/**
 * Which registration an arriving ECG belongs to (the drivers' EcgContextSource, answered from the
 * box's registrations). Carts often carry a patient ID or an order (accession) number the
 * technician typed or picked from the worklist; acquisition modules send no patient at all. The
 * rule, in order:
 *
 *   1. The record's accession number names a registration that has not expired → that one.
 *   2. The record carries a patient ID → the newest open ECG registration with that patient ID
 *      (open = scheduled or in progress, not expired).
 *   3. The record carries no patient ID and no accession number (a stream module) → the single
 *      ECG registration of today still waiting (scheduled, nothing arrived for it yet), if there is
 *      exactly one. With two or more waiting the box cannot tell whose ECG it is and does not guess.
 *   4. Otherwise the ECG is stored as the device recorded it, unlinked; the API marks such an ECG
 *      study `unregistered`, so the technician registers the patient and sees to it.
 *
 * "ECG registration" = a registration whose modality is ECG. A registration taken by rule 3 is not
 * offered by rule 3 again, even before its study is stored (two records arriving together).
 */
import type { EcgContextSource, EcgOrigin, EcgRecord, EcgRegistration } from "../../device-drivers/index.ts";
import { localDate } from "../registrations/registration.ts";
import type { RegistrationStore, RegistrationView } from "../registrations/registration-store.ts";

export class RegistrationEcgContext implements EcgContextSource {
  readonly #store: RegistrationStore;
  readonly #now: () => Date;
  readonly #claimed = new Set<string>();

  constructor(store: RegistrationStore, now: () => Date = () => new Date()) {
    this.#store = store;
    this.#now = now;
  }

  contextFor(record: EcgRecord, _origin: EcgOrigin): EcgRegistration | undefined {
    const registration = this.#find(record);
    return registration ? ecgRegistration(registration) : undefined;
  }

  #find(record: EcgRecord): RegistrationView | undefined {
    const open = this.#store.listToday().filter((r) => r.state !== "expired");
    const accession = record.acquisition.accessionNumber?.trim() ?? "";
    const patientId = record.patient.id?.trim() ?? "";
    if (accession !== "") {
      const byAccession = open.find((r) => r.accessionNumber === accession);
      if (byAccession) return byAccession;
    }
    const ecg = open.filter((r) => r.modality === "ECG" && r.state !== "completed");
    if (patientId !== "") {
      return (
        ecg
          .filter((r) => r.patientId === patientId)
          // Newest first; registrations of the same second by the box's serial (RP + YYMMDD + count).
          .sort(
            (a, b) =>
              b.registeredAt.localeCompare(a.registeredAt) ||
              b.requestedProcedureId.localeCompare(a.requestedProcedureId),
          )[0]
      );
    }
    if (accession !== "") return undefined;
    const today = localDate(this.#now());
    const waiting = ecg.filter(
      (r) =>
        r.state === "scheduled" &&
        !this.#claimed.has(r.registrationId) &&
        localDate(new Date(r.scheduledAt)) === today,
    );
    if (waiting.length !== 1) return undefined;
    this.#claimed.add(waiting[0]!.registrationId);
    return waiting[0];
  }
}

function ecgRegistration(r: RegistrationView): EcgRegistration {
  return {
    registrationId: r.registrationId,
    studyInstanceUid: r.studyInstanceUid,
    patientId: r.patientId,
    patientName: r.patientName,
    patientSex: r.patientSex,
    patientBirthDate: r.patientBirthDate,
    accessionNumber: r.accessionNumber,
    requestedProcedureId: r.requestedProcedureId,
    scheduledProcedureStepId: r.scheduledProcedureStepId,
    ...(r.procedureDescription ? { studyDescription: r.procedureDescription } : {}),
  };
}
