/**
 * Who may connect, publish and subscribe on the embedded broker.
 *
 * - Nobody connects anonymously (CONNACK 5). A box logs in as its site: username = site id and the
 *   password add-box gave it (wrong: CONNACK 4), or, on the TLS listener, with a client certificate
 *   from the county CA (CN = site id, O = county id; the registry must know the box and, if it
 *   recorded the certificate, it must be that one). Either way its client id must be
 *   `dxgate-box-{countyId}-{siteId}` (CONNACK 2): an MQTT session belongs to its client id, and a box
 *   must not take over another's.
 * - A box publishes only its own site's `up` topics of this county and subscribes only to its own
 *   site's `down` topics; anything else is refused and logged at warn with code ACL_DENIED (a
 *   publish by closing the connection, MQTT 3.1.1 having no negative PUBACK; a subscription with
 *   0x80 in the SUBACK).
 * - The reading centre's own clients prove themselves with a per-process secret; only they may
 *   publish downward (commit-acks and reports) or use a `dxgate-rc-` client id.
 * - `$` topics belong to the server (MQTT 3.1.1 §4.7.2).
 * - no publish is larger than MAX_PUBLISH_BYTES (the largest chunk or preview + 64 KiB); only a
 *   box's status may be retained.
 */
import { timingSafeEqual } from "node:crypto";
import type { AuthErrorCode, AuthenticateError, Client, PublishPacket, Subscription } from "aedes";
import type { Logger } from "../../common/logger.ts";
import {
  downWildcard,
  ID_PATTERN,
  MAX_CHUNK_BYTES,
  MAX_PREVIEW_PAYLOAD_BYTES,
  parseTopic,
} from "../../uploader/protocol/index.ts";

/**
 * The largest publish the broker lets through: the largest binary message (a chunk's data, or a whole
 * preview with its header), with headroom for the chunk header, the topic and the MQTT framing.
 */
export const MAX_PUBLISH_BYTES = Math.max(MAX_CHUNK_BYTES, MAX_PREVIEW_PAYLOAD_BYTES) + 64 * 1024;

/** Client ids with this prefix are reserved for the reading centre's own clients. */
export const INTERNAL_CLIENT_PREFIX = "dxgate-rc-";

export interface InternalCredentials {
  username: string;
  password: string;
}

/** The registered boxes, as the broker needs them (reading-centre/boxes/registry.ts implements it). */
export interface BoxAuthenticator {
  authenticate(siteId: string, password: string): Promise<boolean>;
  /** The box is enabled and this (CA-verified) certificate may stand for it. */
  admitsCertificate(siteId: string, fingerprint256: string): boolean;
}

/** A client certificate the TLS listener verified against the county CA. */
export interface PeerCertificate {
  commonName: string | undefined;
  organization: string | undefined;
  fingerprint256: string;
}

export interface BrokerAclOptions {
  countyId: string;
  internal: InternalCredentials;
  boxes: BoxAuthenticator;
  /** The verified client certificate of the client's connection, if any. */
  peerCertificate?: (client: Client) => PeerCertificate | undefined;
  log: Logger;
}

/** The client id a box of `siteId` must use. */
export function boxClientId(countyId: string, siteId: string): string {
  return `dxgate-box-${countyId}-${siteId}`;
}

export interface BrokerAcl {
  authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void;
  authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void;
  authorizeSubscribe(
    client: Client,
    subscription: Subscription,
    done: (error: Error | null, subscription?: Subscription | null) => void,
  ): void;
}

// MQTT 3.1.1 §3.2.2.3 CONNACK return codes.
const IDENTIFIER_REJECTED = 2 as AuthErrorCode;
const BAD_USERNAME_OR_PASSWORD = 4 as AuthErrorCode;
const NOT_AUTHORIZED = 5 as AuthErrorCode;

function authError(message: string, returnCode: AuthErrorCode): AuthenticateError {
  return Object.assign(new Error(message), { returnCode });
}

export function createBrokerAcl(options: BrokerAclOptions): BrokerAcl {
  const { countyId, log, boxes } = options;
  const internalClients = new WeakSet<Client>();
  /** The site each admitted box client logged in as. */
  const sites = new WeakMap<Client, string>();
  const secret = Buffer.from(options.internal.password, "utf8");

  function passwordMatches(password: Buffer | undefined): boolean {
    return password !== undefined && password.length === secret.length && timingSafeEqual(password, secret);
  }

  /** The site the client proved it is, or the CONNACK code that refuses it. */
  async function identify(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<{ siteId: string } | { refuse: AuthErrorCode; code: string; siteId?: string }> {
    const certificate = options.peerCertificate?.(client);
    if (username !== undefined && username !== "") {
      if (!ID_PATTERN.test(username) || password === undefined) {
        return { refuse: BAD_USERNAME_OR_PASSWORD, code: "AUTH_FAILED" };
      }
      // Certificate and password both given: they must name the same box.
      if (certificate && certificate.commonName !== username) {
        return { refuse: BAD_USERNAME_OR_PASSWORD, code: "AUTH_FAILED", siteId: username };
      }
      if (!(await boxes.authenticate(username, password.toString("utf8")))) {
        return { refuse: BAD_USERNAME_OR_PASSWORD, code: "AUTH_FAILED", siteId: username };
      }
      return { siteId: username };
    }
    if (certificate) {
      const site = certificate.commonName;
      if (
        site === undefined ||
        !ID_PATTERN.test(site) ||
        certificate.organization !== countyId ||
        !boxes.admitsCertificate(site, certificate.fingerprint256)
      ) {
        return { refuse: NOT_AUTHORIZED, code: "CERT_REFUSED", ...(site ? { siteId: site } : {}) };
      }
      return { siteId: site };
    }
    return { refuse: NOT_AUTHORIZED, code: "ANONYMOUS" };
  }

  function denied(
    client: Client,
    siteId: string | undefined,
    what: Record<string, unknown>,
    msg: string,
  ): void {
    log.warn({ code: "ACL_DENIED", clientId: client.id, siteId, ...what }, msg);
  }

  return {
    authenticate(client, username, password, done) {
      if (username === options.internal.username) {
        if (!passwordMatches(password)) {
          log.warn({ clientId: client.id }, "mqtt internal login with a wrong secret refused");
          done(authError("bad internal credentials", BAD_USERNAME_OR_PASSWORD), false);
          return;
        }
        internalClients.add(client);
        done(null, true);
        return;
      }
      // A box taking the receiver's client id would take over its session (MQTT-3.1.4-2) and with
      // it the queue of uploads addressed to the reading centre.
      if (client.id.startsWith(INTERNAL_CLIENT_PREFIX)) {
        log.warn({ clientId: client.id }, "mqtt client id reserved for the reading centre refused");
        done(authError("client id is reserved", IDENTIFIER_REJECTED), false);
        return;
      }
      identify(client, username, password).then(
        (outcome) => {
          if ("refuse" in outcome) {
            // Never the password; the username only when it is a well-formed site id.
            log.warn(
              { code: outcome.code, clientId: client.id, siteId: outcome.siteId },
              "mqtt login refused",
            );
            done(authError(outcome.code, outcome.refuse), false);
            return;
          }
          if (client.id !== boxClientId(countyId, outcome.siteId)) {
            log.warn(
              { code: "CLIENT_ID_REFUSED", clientId: client.id, siteId: outcome.siteId },
              `mqtt login refused: a box must use client id ${boxClientId(countyId, outcome.siteId)}`,
            );
            done(authError("client id does not match the box", IDENTIFIER_REJECTED), false);
            return;
          }
          sites.set(client, outcome.siteId);
          log.debug({ clientId: client.id, siteId: outcome.siteId }, "mqtt box logged in");
          done(null, true);
        },
        (error: unknown) => {
          log.error({ clientId: client.id, reason: (error as Error).message }, "mqtt login check failed");
          done(authError("login check failed", NOT_AUTHORIZED), false);
        },
      );
    },

    authorizePublish(client, packet, done) {
      // A null client is the broker itself ($SYS heartbeats, wills it publishes on its own behalf).
      if (!client) return done(null);
      const size = packet.payload?.length ?? 0;
      if (size > MAX_PUBLISH_BYTES) {
        log.warn({ clientId: client.id, size }, "mqtt publish over the size limit refused");
        return done(new Error("publish exceeds the size limit"));
      }
      // MQTT 3.1.1 §4.7.2: topics starting with "$" are the server's; clients must not publish them.
      if (packet.topic.startsWith("$")) return done(new Error("$ topics are reserved"));
      if (internalClients.has(client)) return done(null);
      const siteId = sites.get(client);
      if (siteId === undefined) return done(new Error("not logged in"));
      const parsed = parseTopic(packet.topic);
      if (parsed?.direction !== "up" || parsed.countyId !== countyId) {
        // §3.3.5: a server that refuses a PUBLISH has no negative ack in 3.1.1; it closes the connection.
        denied(client, siteId, { kind: parsed?.kind }, "mqtt publish outside the protocol refused");
        return done(new Error("not a protocol up topic of this county"));
      }
      if (parsed.siteId !== siteId) {
        denied(
          client,
          siteId,
          { kind: parsed.kind, topicSiteId: parsed.siteId },
          "mqtt publish as another site refused",
        );
        return done(new Error("not this box's site"));
      }
      // Only the box's status is meant to be retained; a retained chunk or preview would sit in
      // broker memory (and be handed to every later subscriber).
      if (packet.retain && parsed.kind !== "status") {
        log.warn({ clientId: client.id, siteId, kind: parsed.kind }, "mqtt retained publish refused");
        return done(new Error("only status may be retained"));
      }
      done(null);
    },

    authorizeSubscribe(client, subscription, done) {
      if (internalClients.has(client)) return done(null, subscription);
      const siteId = sites.get(client);
      if (siteId === undefined || !isSiteDownFilter(subscription.topic, countyId, siteId)) {
        denied(
          client,
          siteId,
          { filter: subscription.topic },
          "mqtt subscription outside the box's down topics refused",
        );
        // §3.9.3: a refused filter is answered with return code 0x80 in the SUBACK (aedes: null).
        return done(null, null);
      }
      done(null, subscription);
    },
  };
}

/**
 * `dxgate/v1/{countyId}/{siteId}/down/{kind|+}` with a literal site (`siteId` when given): what a box
 * subscribes to.
 */
export function isSiteDownFilter(filter: string, countyId: string, siteId?: string): boolean {
  const site = filter.split("/")[3];
  if (site === undefined || !ID_PATTERN.test(site)) return false;
  if (siteId !== undefined && site !== siteId) return false;
  if (filter === downWildcard({ countyId, siteId: site })) return true;
  const parsed = parseTopic(filter);
  return parsed?.direction === "down" && parsed.countyId === countyId;
}
