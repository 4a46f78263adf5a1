import { pino, type DestinationStream, type Logger } from 'pino';
export type { Logger };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A path segment or query value that looks like a secret: 32+ characters of base64url with an
 *  upper-case letter (a random token; one without any has odds of 1 in 5·10⁹), or 32+ hex
 *  digits; a UUID is an id and a lower-case slug a name, both kept. */
const isSecretLike = (s: string) => s.length >= 32 && !UUID.test(s) && ((/^[A-Za-z0-9_-]+$/.test(s) && /[A-Z]/.test(s)) || /^[0-9a-f]+$/i.test(s));
/** Query parameters that carry secrets whatever they look like (OIDC's code and state, tokens…). */
const SECRET_PARAMS = /^(token|code|state|secret|key|password|session|nonce|ticket)$/i;

/**
 * A URL as it may be written to the logs: every token-like path segment (the links e-mailed to
 * sign in, reset a password, accept an invitation, confirm a claim or an address…) and every
 * secret-bearing query value replaced by `[secret]`. Applied to every request line, so a token
 * route added later is covered without anyone remembering to.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  const safePath = path
    .split('/')
    .map((seg) => {
      let decoded = seg;
      try {
        decoded = decodeURIComponent(seg);
      } catch {
        /* keep as sent */
      }
      return isSecretLike(decoded) ? '[secret]' : seg;
    })
    .join('/');
  if (!query) return safePath;
  const safeQuery = query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      return SECRET_PARAMS.test(name) || isSecretLike(value) ? `${name}=[secret]` : pair;
    })
    .join('&');
  return `${safePath}?${safeQuery}`;
}

interface LoggedRequest {
  method?: string;
  url?: string;
  hostname?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** Structured JSON logs (pino). Secrets never go through here: callers log ids, not credentials;
 *  cookies and authorisation headers are removed and request URLs redacted (redactUrl). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    redact: { paths: ['req.headers.cookie', 'req.headers.authorization', '*.password', '*.token'], remove: true },
    serializers: {
      req: (req: LoggedRequest) => ({
        method: req.method,
        url: typeof req.url === 'string' ? redactUrl(req.url) : req.url,
        host: req.hostname,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
