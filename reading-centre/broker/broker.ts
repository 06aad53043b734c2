/**
 * The embedded MQTT broker (aedes, in-memory persistence) the boxes and the receiver connect to when
 * no external broker is configured. Every connection passes the packet-size guard first.
 */
import { once } from "node:events";
import { type AddressInfo, createServer, type Server } from "node:net";
import { Aedes } from "aedes";
import type { Logger } from "../../common/logger.ts";
import { rcError } from "../errors.ts";
import { createBrokerAcl, type InternalCredentials, MAX_PUBLISH_BYTES } from "./acl.ts";
import { SizeGuardedConnection } from "./size-guard.ts";

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  countyId: string;
  internal: InternalCredentials;
  log: Logger;
}

export interface EmbeddedBroker {
  /** The bound port (the real one when configured as 0). */
  port: number;
  /** Where the reading centre's own client connects. */
  url: string;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const log = options.log;
  const acl = createBrokerAcl({ countyId: options.countyId, internal: options.internal, log });
  const broker = await Aedes.createBroker({
    authenticate: acl.authenticate,
    authorizePublish: acl.authorizePublish,
    authorizeSubscribe: acl.authorizeSubscribe,
  });
  broker.on("clientError", (client, error) => {
    log.debug({ clientId: client.id, reason: error.message }, "mqtt client error");
  });
  broker.on("connectionError", (_client, error) => {
    log.debug({ reason: error.message }, "mqtt connection error");
  });

  const server: Server = createServer((socket) => {
    // Small acks must not wait for Nagle's algorithm to coalesce them with data that never comes.
    socket.setNoDelay(true);
    broker.handle(
      new SizeGuardedConnection(socket, MAX_PUBLISH_BYTES, (problem) => {
        log.warn(
          { code: problem.code, remote: socket.remoteAddress },
          "mqtt connection closed: bad packet size",
        );
      }),
    );
  });
  try {
    server.listen(options.port, options.host);
    await once(server, "listening");
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw rcError("BROKER_START_FAILED", `MQTT broker cannot listen on ${options.host}:${options.port}`, {
      reason: (error as Error).message,
    });
  }
  const port = (server.address() as AddressInfo).port;
  log.info({ service: "mqtt", host: options.host, port }, "listening");

  return {
    port,
    url: `mqtt://${formatHost(connectableHost(options.host))}:${port}`,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A wildcard listen address is not an address to connect to; loopback reaches it. */
function connectableHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "::1";
  return host;
}

function formatHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
