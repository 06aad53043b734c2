/**
 * The base of every coded error in both processes: a stable code field staff can look up in the
 * README's error table, a message, and the HTTP status an API answers with.
 */
export class DxgateError extends Error {
  readonly code: string;
  readonly httpStatus: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, httpStatus = 500, details?: Record<string, unknown>) {
    super(message);
    this.name = "DxgateError";
    this.code = code;
    this.httpStatus = httpStatus;
    this.details = details;
  }
}
