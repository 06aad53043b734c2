/**
 * Links an arriving instance to the registration it was scheduled by (PS3.4 K.6: the modality copies
 * the worklist's Study Instance UID and Accession Number into the images it sends). StudyService
 * calls this once per stored instance; the study record keeps the returned registration id.
 */
import type { InstanceAttributes } from "../../device-drivers/index.ts";
import type { RegistrationStore } from "./registration-store.ts";

export type RegistrationLinker = (attributes: InstanceAttributes) => string | undefined;

export function registrationLinker(store: RegistrationStore): RegistrationLinker {
  return (attributes) => {
    const registration = store.match(attributes.studyInstanceUid, attributes.accessionNumber);
    if (!registration) return undefined;
    store.markArrived(registration, attributes.studyInstanceUid);
    return registration.registrationId;
  };
}
