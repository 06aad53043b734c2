/**
 * The DICOM service's "who may send, how long, over what, and what we commit to" options, from the
 * gateway configuration: allow-lists, association limit and idle timeout, the TLS listener, and
 * Storage Commitment answered from the spool and the study index.
 */
import type { DicomServiceOptions } from "../../device-drivers/index.ts";
import type { GatewayConfig } from "../config.ts";
import type { Spool } from "../spool/spool.ts";
import type { StudyService } from "../studies/study-service.ts";
import { SpoolCommitmentSource } from "./commitment-source.ts";

export function dicomAccessOptions(
  dicom: GatewayConfig["dicom"],
  deps: { spool: Spool; studies: StudyService },
): Pick<DicomServiceOptions, "admission" | "idleTimeoutMs" | "tls" | "commitment"> {
  return {
    admission: {
      devices: dicom.devices,
      // Unset, device-drivers' default applies: unknown AEs are admitted while the list is empty.
      ...(dicom.allowUnknown === undefined ? {} : { allowUnknown: dicom.allowUnknown }),
      maxAssociations: dicom.maxAssociations,
    },
    idleTimeoutMs: dicom.idleTimeoutMs,
    ...(dicom.tls ? { tls: dicom.tls } : {}),
    commitment: {
      source: new SpoolCommitmentSource({ mode: dicom.commitment, spool: deps.spool, studies: deps.studies }),
      waitMs: dicom.commitmentWaitMs,
    },
  };
}
