import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

// The kernel's sendfile(2) for file bodies, through a small native addon (native/sendfile, built by
// scripts/build-native.mjs into dist/native): page-cache pages go to the socket with no copy through JavaScript.
// Where the addon is missing (no compiler when it was built, another OS) or BERTH_SENDFILE=0, callers fall back to
// the buffered path.

interface Native {
  start(socketFd: number, fileFd: number, offset: number, length: number, done: (errno: number, sent: number) => void): object;
  cancel(job: object): void;
}

let native: Native | undefined | null = null;

function load(): Native | undefined {
  if (native !== null) return native;
  native = undefined;
  if (process.env.BERTH_SENDFILE === '0' || process.platform !== 'linux') return undefined;
  const require = createRequire(import.meta.url);
  // dist/core/sendfile.js finds dist/native; core/sendfile.ts (tests run the sources) finds it under dist/.
  for (const candidate of ['../native/berth_sendfile.node', '../dist/native/berth_sendfile.node']) {
    try {
      native = require(candidate) as Native;
      break;
    } catch {
      // not there: the next candidate, then the buffered path
    }
  }
  return native;
}

/** Whether sendfile bodies are available in this process (for /metrics-style reporting and tests). */
export function sendfileAvailable(): boolean {
  return load() !== undefined;
}

/** The raw descriptor of a plain TCP socket that is this response's own now, or undefined (TLS, HTTP/2, queued). */
function socketFd(res: ServerResponse): number | undefined {
  const socket = res.socket as (Socket & { encrypted?: boolean; _httpMessage?: unknown; _handle?: { fd?: number } }) | null;
  if (!socket || socket.encrypted || socket._httpMessage !== res || socket.destroyed) return undefined;
  const fd = socket._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Sends `length` bytes of `fh` from `start` as the body of `res` (head set, not necessarily sent) with sendfile.
 * Returns false, having written nothing, where sendfile cannot be used; otherwise true once the body is out (res
 * ended) or the client has gone (res destroyed). `onBytes` gets the bytes sent, once, at the end.
 */
export async function sendFileBody(res: ServerResponse, fh: FileHandle, start: number, length: number, onBytes: (n: number) => void): Promise<boolean> {
  const addon = load();
  const fd = addon && socketFd(res);
  if (!addon || fd === undefined) return false;
  res.flushHeaders();
  // The head must be in the kernel before the body goes behind Node's back: an empty write completes after it.
  const socket = res.socket!;
  await new Promise<void>((resolve) => socket.write(Buffer.alloc(0), () => resolve()));
  if (res.destroyed || socket.destroyed) return true;
  const { errno, sent } = await new Promise<{ errno: number; sent: number }>((resolve) => {
    const job = addon.start(fd, fh.fd, start, length, (errno, sent) => {
      res.off('close', cancel);
      resolve({ errno, sent });
    });
    const cancel = () => addon.cancel(job);
    res.on('close', cancel);
  });
  onBytes(sent);
  if (errno === 0 && sent === length) res.end();
  else res.destroy(); // a short body, as with a broken pipe: the client sees the connection end early
  return true;
}
