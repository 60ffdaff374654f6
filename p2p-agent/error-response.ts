import type { ServerResponse } from 'node:http';
import type { RegistryError } from '../core/errors.js';

// The agent's one way to answer with an OCI error: the status, headers and {"errors":[…]} body the error itself
// carries (core/errors.ts), as the registry's own middleware sends them.

export function sendRegistryError(res: ServerResponse, err: RegistryError): void {
  res.writeHead(err.status, { ...err.headers, 'content-type': 'application/json' });
  res.end(JSON.stringify(err.toJSON()));
}
