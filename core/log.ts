import { pino, stdSerializers, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout. Secrets never reach a log: authorization headers and passwords are redacted. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...bindings },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.secret', '*.token'],
      censor: '[redacted]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: safeError },
  });
}

/** Node's HTTP parser errors carry the raw request bytes (`rawPacket`), Authorization header included: drop them. */
function safeError(err: unknown): unknown {
  const out = stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (out && typeof out === 'object') {
    delete out.rawPacket;
    delete out.headers;
  }
  return out;
}
