/**
 * The optional DICOM-over-TLS listener (PS3.15 B.1 "Basic TLS Secure Transport Connection
 * Profile", with TLS 1.2 as the floor as in the BCP 195 profiles of PS3.15 B.9): same service,
 * second port. Connections reach the same per-association handler once the handshake is done.
 */
import { readFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import type { Logger } from "../../common/logger.ts";

export interface DicomTlsOptions {
  /** TLS port; 0 picks a free one. DICOM's registered TLS port is 2762. */
  port: number;
  /** Interface to bind; default the plain listener's. */
  host?: string;
  /** PEM file with our certificate (chain). */
  cert: string;
  /** PEM file with its private key. */
  key: string;
  /** PEM file with the CA(s) client certificates must chain to. */
  ca?: string;
  /** Refuse peers without a certificate signed by `ca` (mutual TLS). */
  requireClientCert?: boolean;
  /** Milliseconds a peer may take to finish the handshake; default 30 000. */
  handshakeTimeoutMs?: number;
}

export async function listenTls(
  options: DicomTlsOptions,
  defaultHost: string | undefined,
  log: Logger,
  accept: (socket: Socket) => void,
): Promise<{ server: Server; port: number }> {
  if (options.requireClientCert && !options.ca)
    throw new Error("dicom.tls.requireClientCert needs dicom.tls.ca");
  const [cert, key, ca] = await Promise.all([
    readFile(options.cert),
    readFile(options.key),
    options.ca ? readFile(options.ca) : undefined,
  ]);
  const server = createServer(
    {
      cert,
      key,
      ...(ca ? { ca } : {}),
      minVersion: "TLSv1.2",
      requestCert: options.requireClientCert === true,
      rejectUnauthorized: options.requireClientCert === true,
      handshakeTimeout: options.handshakeTimeoutMs ?? 30_000,
    },
    (socket: TLSSocket) => accept(socket),
  );
  server.on("tlsClientError", (error, socket) =>
    log.warn({ event: "tls-refused", remoteAddress: socket.remoteAddress, error: error.message }),
  );
  server.on("error", (error) => log.error({ event: "listener-error", tls: true, error: error.message }));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? defaultHost, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return { server, port };
}
