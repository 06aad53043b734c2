/** What the upward-message handlers share: the stores, staging, the downlink and a logger. */
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

export interface ReceiverContext {
  countyId: string;
  staging: Staging;
  studies: StudyStore;
  instances: InstanceStore;
  previews: PreviewStore;
  downlink: DownlinkPublisher;
  log: Logger;
}

/** Handles one upward message of a site; throws ProtocolError for a malformed payload. */
export type UpHandler = (site: SiteAddress, payload: Buffer) => Promise<void>;
