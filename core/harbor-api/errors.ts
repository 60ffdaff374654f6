// Harbor's error shape, {"errors":[{"code","message"}]}, with Harbor's codes: src/lib/errors/const.go for the
// ones handlers raise, and the status text for the ones go-swagger raises while binding a request
// (src/lib/http/error.go turns a 422 into UNPROCESSABLE_ENTITY).

export type ApiErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'DENIED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'PRECONDITION'
  | 'VIOLATE_FOREIGN_KEY_CONSTRAINT'
  | 'UNPROCESSABLE_ENTITY'
  | 'TOO_MANY_REQUEST'
  | 'TOOMANYREQUESTS' // the token service speaks the distribution spec's code
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'DENIED' // Harbor's read-only mode (and policy refusals it shows docker clients)
  | 'REQUEST_ENTITY_TOO_LARGE'
  | 'UNKNOWN';

const codeForStatus: Record<number, ApiErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  412: 'PRECONDITION',
  413: 'REQUEST_ENTITY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_ENTITY',
  429: 'TOO_MANY_REQUEST',
};

/** A refusal under /api/v2.0 or /service: its status, Harbor's code for it, and headers to send with it. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;

  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    code?: ApiErrorCode,
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = code ?? codeForStatus[status] ?? 'UNKNOWN';
  }

  toJSON(): { errors: { code: string; message: string }[] } {
    return { errors: [{ code: this.code, message: this.message }] };
  }
}

export const badRequest = (message: string) => new ApiError(400, message);
export const unauthorized = (message = 'unauthorized') => new ApiError(401, message);
export const forbidden = (message = 'forbidden') => new ApiError(403, message);
export const notFound = (message: string) => new ApiError(404, message);
export const conflict = (message: string) => new ApiError(409, message);
export const precondition = (message: string) => new ApiError(412, message);

/**
 * What Harbor answers when a request does not bind to its swagger parameters (a page that is no integer, a
 * page_size over 100, a required body missing): go-swagger's "validation failure list", status 422.
 */
export const unprocessable = (problem: string) => new ApiError(422, `validation failure list:\n${problem}`);
