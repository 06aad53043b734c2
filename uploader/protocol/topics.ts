/**
 * The MQTT topic map of the dxgate transfer protocol, version 1. Both ends build and parse topics
 * here and nowhere else. See uploader/PROTOCOL.md for the prose.
 *
 *   dxgate/v1/{countyId}/{siteId}/up/{kind}     box → reading centre
 *   dxgate/v1/{countyId}/{siteId}/down/{kind}   reading centre → box
 */
export const TOPIC_ROOT = "dxgate";
export const PROTOCOL_VERSION = 1;

/** `preview` was added within v1 (an optional, unacknowledged message; see PROTOCOL.md). */
export const UP_KINDS = ["manifest", "chunk", "commit", "report-ack", "status", "preview"] as const;
/** `manifest-ack` was added within v1 (resume and chunk-size negotiation; see PROTOCOL.md). */
export const DOWN_KINDS = ["commit-ack", "report", "manifest-ack"] as const;
export type UpKind = (typeof UP_KINDS)[number];
export type DownKind = (typeof DOWN_KINDS)[number];

/** A site or county id: it becomes a topic level, so no wildcards, slashes or control characters. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface SiteAddress {
  countyId: string;
  siteId: string;
}

function base({ countyId, siteId }: SiteAddress): string {
  if (!ID_PATTERN.test(countyId))
    throw new RangeError(`invalid countyId for a topic: ${JSON.stringify(countyId)}`);
  if (!ID_PATTERN.test(siteId)) throw new RangeError(`invalid siteId for a topic: ${JSON.stringify(siteId)}`);
  return `${TOPIC_ROOT}/v${PROTOCOL_VERSION}/${countyId}/${siteId}`;
}

export function upTopic(site: SiteAddress, kind: UpKind): string {
  return `${base(site)}/up/${kind}`;
}

export function downTopic(site: SiteAddress, kind: DownKind): string {
  return `${base(site)}/down/${kind}`;
}

/** What the reading centre subscribes to: every box's upward traffic in one county (or all with "+"). */
export function upWildcard(countyId = "+"): string {
  return `${TOPIC_ROOT}/v${PROTOCOL_VERSION}/${countyId}/+/up/+`;
}

/** What a box subscribes to: its own downward traffic. */
export function downWildcard(site: SiteAddress): string {
  return `${base(site)}/down/+`;
}

export type ParsedTopic =
  | ({ direction: "up"; kind: UpKind } & SiteAddress)
  | ({ direction: "down"; kind: DownKind } & SiteAddress);

/** Parse a protocol topic; `undefined` for anything that is not exactly one of ours. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split("/");
  if (parts.length !== 6) return undefined;
  const [root, version, countyId, siteId, direction, kind] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (root !== TOPIC_ROOT || version !== `v${PROTOCOL_VERSION}`) return undefined;
  if (!ID_PATTERN.test(countyId) || !ID_PATTERN.test(siteId)) return undefined;
  if (direction === "up" && (UP_KINDS as readonly string[]).includes(kind)) {
    return { direction, kind: kind as UpKind, countyId, siteId };
  }
  if (direction === "down" && (DOWN_KINDS as readonly string[]).includes(kind)) {
    return { direction, kind: kind as DownKind, countyId, siteId };
  }
  return undefined;
}
