import { ERRORS, type ErrorCode, type ErrorFrame } from '@parley/protocol';

/**
 * An error with a registry code; the REST API answers it as `{error:{code,message}}` with the
 * code's status. (`@parley/backend`'s `RelayError` is the other side: a failed call to the relay.)
 */
export class CodedError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
  ) {
    super(message);
    this.name = 'CodedError';
    this.statusCode = ERRORS[code].status;
  }
}

/** The REST error body for a code. */
export function errorBody(code: ErrorCode, message: string = ERRORS[code].message): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}

/** The `error` frame for a code. */
export function errorFrame(code: ErrorCode, message: string = ERRORS[code].message, id?: string): ErrorFrame {
  return id === undefined ? { t: 'error', code, message } : { t: 'error', code, message, id };
}

/** The HTTP status of a code. */
export function statusOf(code: ErrorCode): number {
  return ERRORS[code].status;
}
