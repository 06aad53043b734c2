/**
 * A small route table over node:http, shared by the gateway and reading-centre APIs.
 *
 * Routes read like an index of the API (`router.add("GET", "/api/studies/:uid", handler)`); errors
 * leave in one JSON shape, `{ "error": { "code", "message", "details" } }`, so clients and field
 * staff see the same codes the README's error table lists.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { DxgateError } from "./errors.ts";
import type { Logger } from "./logger.ts";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
}

/** A handler returns a JSON-able value (sent with 200) or `undefined` when it wrote the response itself. */
export type Handler = (ctx: RequestContext) => Promise<unknown> | unknown;

interface Route {
  method: Method;
  segments: string[];
  handler: Handler;
}

export class Router {
  readonly #routes: Route[] = [];
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  add(method: Method, pattern: string, handler: Handler): this {
    this.#routes.push({ method, segments: pattern.split("/").filter(Boolean), handler });
    return this;
  }

  /** The `http.createServer` request listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.#dispatch(req, res).catch((error: unknown) => this.#fail(res, error, req));
  };

  async #dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.split("/").filter(Boolean).map(safeDecode);
    let pathMatched = false;
    for (const route of this.#routes) {
      const params = match(route.segments, path);
      if (!params) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      const result = await route.handler({ req, res, params, query: url.searchParams });
      if (result !== undefined && !res.headersSent) sendJson(res, 200, result);
      return;
    }
    if (pathMatched)
      throw new DxgateError("HTTP_METHOD_NOT_ALLOWED", `${req.method} is not allowed here`, 405);
    throw new DxgateError("HTTP_NOT_FOUND", `no such resource: ${url.pathname}`, 404);
  }

  #fail(res: ServerResponse, error: unknown, req: IncomingMessage): void {
    const known = error instanceof DxgateError;
    const status = known ? error.httpStatus : 500;
    if (!known || status >= 500) {
      this.#log.error({ err: error, method: req.method, path: req.url?.split("?")[0] }, "request failed");
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, status, {
      error: {
        code: known ? error.code : "INTERNAL",
        message: known ? error.message : "internal error",
        details: known ? (error.details ?? {}) : {},
      },
    });
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function match(pattern: string[], path: string[]): Record<string, string> | undefined {
  if (pattern.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i]!;
    const got = path[i]!;
    if (want.startsWith(":")) params[want.slice(1)] = got;
    else if (want !== got) return undefined;
  }
  return params;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

/** Read a JSON request body of at most `limitBytes`; a malformed or oversized body is a 400/413. */
export async function readJsonBody(req: IncomingMessage, limitBytes = 1024 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) {
      throw new DxgateError("HTTP_BODY_TOO_LARGE", `request body exceeds ${limitBytes} bytes`, 413);
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new DxgateError("HTTP_BAD_JSON", "request body is not valid JSON", 400);
  }
}
