/**
 * Who may connect, publish and subscribe on the embedded broker.
 *
 * Boxes connect without credentials for now (per-box credentials and a per-site ACL are a later
 * issue), but the rules that do not depend on knowing the box are enforced already:
 * - the reading centre's own receiver proves itself with a per-process secret, and only it may
 *   publish downward (commit-acks and reports) or use a `dxgate-rc-` client id;
 * - anyone else publishes only protocol `up` topics of this county, and subscribes only to one
 *   site's `down` topics (uploads carry patient data; nobody else may listen to them);
 * - `$` topics belong to the server (MQTT 3.1.1 §4.7.2);
 * - no publish is larger than MAX_PUBLISH_BYTES (the largest chunk or preview + 64 KiB).
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

export interface BrokerAclOptions {
  countyId: string;
  internal: InternalCredentials;
  log: Logger;
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

function authError(message: string, returnCode: AuthErrorCode): AuthenticateError {
  return Object.assign(new Error(message), { returnCode });
}

export function createBrokerAcl(options: BrokerAclOptions): BrokerAcl {
  const { countyId, log } = options;
  const internalClients = new WeakSet<Client>();
  const secret = Buffer.from(options.internal.password, "utf8");

  function passwordMatches(password: Buffer | undefined): boolean {
    return password !== undefined && password.length === secret.length && timingSafeEqual(password, secret);
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
      done(null, true);
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
      const parsed = parseTopic(packet.topic);
      if (parsed?.direction !== "up" || parsed.countyId !== countyId) {
        // §3.3.5: a server that refuses a PUBLISH has no negative ack in 3.1.1; it closes the connection.
        log.warn({ clientId: client.id, kind: parsed?.kind }, "mqtt publish outside the protocol refused");
        return done(new Error("not a protocol up topic of this county"));
      }
      // Only the box's status is meant to be retained; a retained chunk or preview would sit in
      // broker memory (and be handed to every later subscriber).
      if (packet.retain && parsed.kind !== "status") {
        log.warn({ clientId: client.id, kind: parsed.kind }, "mqtt retained publish refused");
        return done(new Error("only status may be retained"));
      }
      done(null);
    },

    authorizeSubscribe(client, subscription, done) {
      if (internalClients.has(client)) return done(null, subscription);
      if (!isSiteDownFilter(subscription.topic, countyId)) {
        log.warn({ clientId: client.id }, "mqtt subscription outside a site's down topics refused");
        // §3.9.3: a refused filter is answered with return code 0x80 in the SUBACK (aedes: null).
        return done(null, null);
      }
      done(null, subscription);
    },
  };
}

/** `dxgate/v1/{countyId}/{siteId}/down/{kind|+}` with a literal site: what a box subscribes to. */
export function isSiteDownFilter(filter: string, countyId: string): boolean {
  const site = filter.split("/")[3];
  if (site === undefined || !ID_PATTERN.test(site)) return false;
  if (filter === downWildcard({ countyId, siteId: site })) return true;
  const parsed = parseTopic(filter);
  return parsed?.direction === "down" && parsed.countyId === countyId;
}
