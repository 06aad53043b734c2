/**
 * The embedded MQTT broker (aedes, in-memory persistence) the boxes and the receiver connect to when
 * no external broker is configured: a plain listener (meant for loopback: the reading centre's own
 * client, a box on the same machine) and, when configured, a TLS listener that also accepts client
 * certificates from the county CA. Every connection passes the packet-size guard first; who may do
 * what is acl.ts.
 */
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { Aedes, type Client } from "aedes";
import type { Logger } from "../../common/logger.ts";
import { rcError } from "../errors.ts";
import {
  type BoxAuthenticator,
  createBrokerAcl,
  type InternalCredentials,
  MAX_PUBLISH_BYTES,
  type PeerCertificate,
} from "./acl.ts";
import { SizeGuardedConnection } from "./size-guard.ts";

export interface BrokerTlsOptions {
  host: string;
  port: number;
  /** PEM file paths. */
  cert: string;
  key: string;
  /** The county CA: client certificates it issued are requested (optional for the client). */
  ca?: string | undefined;
}

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  tls?: BrokerTlsOptions | undefined;
  countyId: string;
  internal: InternalCredentials;
  /** The registered boxes; absent: no box is admitted (only the reading centre's own clients). */
  boxes?: BoxAuthenticator | undefined;
  log: Logger;
}

const NO_BOXES: BoxAuthenticator = {
  authenticate: async () => false,
  admitsCertificate: () => false,
};

export interface EmbeddedBroker {
  /** The bound port (the real one when configured as 0). */
  port: number;
  /** The TLS listener's bound port, when there is one. */
  tlsPort: number | undefined;
  /** Where the reading centre's own client connects. */
  url: string;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const log = options.log;
  // The verified client certificate of each TLS connection, keyed by the stream aedes is handed.
  const peers = new WeakMap<Duplex, PeerCertificate>();
  const acl = createBrokerAcl({
    countyId: options.countyId,
    internal: options.internal,
    boxes: options.boxes ?? NO_BOXES,
    peerCertificate: (client: Client) => peers.get(client.conn as Duplex),
    log,
  });
  const tlsFiles = options.tls ? await readTlsFiles(options.tls) : undefined;
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

  function handle(socket: Socket, peer?: PeerCertificate): void {
    // Small acks must not wait for Nagle's algorithm to coalesce them with data that never comes.
    socket.setNoDelay(true);
    const connection = new SizeGuardedConnection(socket, MAX_PUBLISH_BYTES, (problem) => {
      log.warn(
        { code: problem.code, remote: socket.remoteAddress },
        "mqtt connection closed: bad packet size",
      );
    });
    if (peer) peers.set(connection, peer);
    broker.handle(connection);
  }

  const servers: Server[] = [];
  const closeAll = async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  try {
    const server: Server = createServer((socket) => handle(socket));
    servers.push(server);
    await listen(server, options.host, options.port);
    if (options.tls && tlsFiles) {
      const requestCert = tlsFiles.ca !== undefined;
      const tlsServer = createTlsServer(
        {
          cert: tlsFiles.cert,
          key: tlsFiles.key,
          minVersion: "TLSv1.2",
          // Certificates are asked for but not required: boxes with only a password use this port too.
          ...(requestCert ? { ca: tlsFiles.ca, requestCert: true, rejectUnauthorized: false } : {}),
        },
        (socket: TLSSocket) => {
          const peer = requestCert ? peerOf(socket) : undefined;
          if (peer === "refused") {
            log.warn(
              {
                code: "TLS_CLIENT_CERT_REFUSED",
                reason: socket.authorizationError,
                remote: socket.remoteAddress,
              },
              "mqtt TLS client certificate not issued by the county CA: connection closed",
            );
            socket.destroy();
            return;
          }
          handle(socket, peer);
        },
      );
      tlsServer.on("tlsClientError", (error, socket) => {
        log.debug({ reason: error.message, remote: socket.remoteAddress }, "mqtt TLS handshake failed");
      });
      servers.push(tlsServer);
      await listen(tlsServer, options.tls.host, options.tls.port);
    }
  } catch (error) {
    await closeAll();
    throw error;
  }
  const port = (servers[0]!.address() as AddressInfo).port;
  log.info({ service: "mqtt", host: options.host, port }, "listening");
  const tlsPort = servers[1] ? (servers[1].address() as AddressInfo).port : undefined;
  if (tlsPort !== undefined) {
    log.info(
      {
        service: "mqtts",
        host: options.tls!.host,
        port: tlsPort,
        clientCertificates: tlsFiles?.ca !== undefined,
      },
      "listening",
    );
  }

  return {
    port,
    tlsPort,
    url: `mqtt://${formatHost(connectableHost(options.host))}:${port}`,
    close: closeAll,
  };
}

async function listen(server: Server, host: string, port: number): Promise<void> {
  try {
    server.listen(port, host);
    await once(server, "listening");
  } catch (error) {
    throw rcError("BROKER_START_FAILED", `MQTT broker cannot listen on ${host}:${port}`, {
      reason: (error as Error).message,
    });
  }
}

async function readTlsFiles(tls: BrokerTlsOptions): Promise<{ cert: Buffer; key: Buffer; ca?: Buffer }> {
  const read = async (field: string, path: string) => {
    try {
      return await readFile(path);
    } catch (error) {
      throw rcError("BROKER_START_FAILED", `mqtt.tls.${field}: cannot read ${path}`, {
        field: `mqtt.tls.${field}`,
        reason: (error as Error).message,
      });
    }
  };
  return {
    cert: await read("cert", tls.cert),
    key: await read("key", tls.key),
    ...(tls.ca ? { ca: await read("ca", tls.ca) } : {}),
  };
}

/** The client certificate, when one was presented: verified against the CA, or "refused". */
function peerOf(socket: TLSSocket): PeerCertificate | "refused" | undefined {
  const certificate = socket.getPeerCertificate();
  if (!certificate || Object.keys(certificate).length === 0) return undefined;
  if (!socket.authorized) return "refused";
  const field = (value: string | string[] | undefined) => (Array.isArray(value) ? undefined : value);
  return {
    commonName: field(certificate.subject?.CN),
    organization: field(certificate.subject?.O),
    fingerprint256: certificate.fingerprint256,
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
