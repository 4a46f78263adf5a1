import { pino, type Logger } from 'pino';
export type { Logger };

/** Structured JSON logs (pino). Secrets never go through here: callers log ids, not credentials. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: { paths: ['req.headers.cookie', 'req.headers.authorization', '*.password', '*.token'], remove: true },
  });
}
