/** What the upward-message handlers share: the stores, staging, the downlink and a logger. */
import type { KeyObject } from "node:crypto";
import type { Logger } from "../../common/logger.ts";
import type { DownKind, JsonMessage, SiteAddress } from "../../uploader/protocol/index.ts";
import type { InstanceStore } from "../store/instance-store.ts";
import type { PreviewStore } from "../store/preview-store.ts";
import type { StudyStore } from "../store/study-store.ts";
import type { Staging } from "./staging.ts";

/** Sends a message down to one box; false when it could not be handed to the broker now. */
export interface DownlinkPublisher {
  publish(site: SiteAddress, kind: DownKind, message: JsonMessage): boolean;
}

/** The county's registered boxes, as the handlers need them (reading-centre/boxes implements it). */
export interface BoxDirectory {
  /** The box's registered Ed25519 public key; undefined for an unknown or disabled box. */
  verifyKey(siteId: string): KeyObject | undefined;
}

export interface ReceiverContext {
  countyId: string;
  boxes: BoxDirectory;
  /**
   * Refuse unsigned manifests and commits, and those of boxes the county does not know. When false, a
   * box with a registered key must still sign validly; others are accepted unsigned.
   */
  requireSignatures: boolean;
  /** Largest chunk the county lets a box use (the manifest-ack's chunkSize is at most this). */
  maxChunkBytes: number;
  /** Most bytes one box may have staged (incomplete transfers) at once. */
  stagingQuotaBytes: number;
  staging: Staging;
  studies: StudyStore;
  instances: InstanceStore;
  previews: PreviewStore;
  downlink: DownlinkPublisher;
  log: Logger;
}

/** Handles one upward message of a site; throws ProtocolError for a malformed payload. */
export type UpHandler = (site: SiteAddress, payload: Buffer) => Promise<void>;
