/**
 * Environment → typed configuration. This is the only file that reads process.env.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Opening hours and "open now" are evaluated in Europe/Paris whatever the server's zone
// (overseas deployments set TZ explicitly).
process.env.TZ = process.env.TZ || 'Europe/Paris';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Theme {
  siteName: string;
  logoUrl: string | null;
  primary: string;
  secondary: string;
  /** Where the source code of the running version is published (AGPL §13); null: the
   *  /code-source page says so and the operator is warned at start-up in production. */
  sourceUrl: string | null;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  host: string;
  /** Development mode may listen on a non-loopback address only with ALLOW_DEV_ON_NETWORK=1. */
  allowDevOnNetwork: boolean;
  port: number;
  publicUrl: string;
  /** PostgreSQL connection string; when absent the embedded PGlite database is used. */
  databaseUrl: string | null;
  /** Directory of the embedded database and other local files. */
  dataDir: string;
  /** Directory holding reference data (territory geometry, standards). */
  sharedDataDir: string;
  logLevel: string;
  theme: Theme;
  basemapStyleUrl: string | null;
  demoPlaces: number;
  trustProxy: boolean;
  /** Accounts: outgoing mail (SMTP URL, e.g. smtps://user:pass@host:465; none = development outbox only). */
  smtpUrl: string | null;
  mailFrom: string;
  /** Accounts: key protecting secrets at rest (TOTP seeds); required in production. */
  secretKey: string | null;
  /** Accounts: session idle and absolute timeouts. */
  sessionIdleMinutes: number;
  sessionMaxHours: number;
  /** Accounts: base of the progressive delay after failed sign-ins (ms). */
  signinDelayMs: number;
  /** Accounts: optional OpenID Connect sign-in (e.g. ProConnect). */
  oidc: { issuer: string; clientId: string; clientSecret: string; label: string } | null;
}

function int(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`Configuration: ${name} must be a non-negative integer, got "${value}"`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const nodeEnv = env.NODE_ENV === 'production' ? 'production' : env.NODE_ENV === 'test' ? 'test' : 'development';
  const port = int(env.PORT, 3000, 'PORT');
  const host = env.HOST || '127.0.0.1';
  const config: Config = {
    env: nodeEnv,
    host,
    allowDevOnNetwork: env.ALLOW_DEV_ON_NETWORK === '1',
    port,
    publicUrl: (env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/$/, ''),
    databaseUrl: env.DATABASE_URL || null,
    dataDir: path.resolve(env.DATA_DIR || path.join(projectRoot, 'data')),
    sharedDataDir: path.resolve(env.SHARED_DATA_DIR || path.join(projectRoot, '..', 'shared', 'data')),
    logLevel: env.LOG_LEVEL || (nodeEnv === 'test' ? 'silent' : 'info'),
    theme: {
      siteName: env.SITE_NAME || 'Maillage',
      logoUrl: env.SITE_LOGO_URL || null,
      primary: env.THEME_PRIMARY || '#1f5f8b',
      secondary: env.THEME_SECONDARY || '#b3470f',
      sourceUrl: env.SOURCE_URL || null,
    },
    basemapStyleUrl: env.BASEMAP_STYLE_URL || null,
    demoPlaces: int(env.DEMO_PLACES, 20000, 'DEMO_PLACES'),
    trustProxy: env.TRUST_PROXY === 'true' || env.TRUST_PROXY === '1',
    smtpUrl: env.SMTP_URL || null,
    mailFrom: env.MAIL_FROM || `${env.SITE_NAME || 'Maillage'} <ne-pas-repondre@localhost>`,
    secretKey: env.SECRET_KEY || null,
    sessionIdleMinutes: int(env.SESSION_IDLE_MINUTES, 60, 'SESSION_IDLE_MINUTES'),
    sessionMaxHours: int(env.SESSION_MAX_HOURS, 12, 'SESSION_MAX_HOURS'),
    signinDelayMs: int(env.SIGNIN_DELAY_MS, 250, 'SIGNIN_DELAY_MS'),
    oidc:
      env.OIDC_ISSUER && env.OIDC_CLIENT_ID && env.OIDC_CLIENT_SECRET
        ? { issuer: env.OIDC_ISSUER, clientId: env.OIDC_CLIENT_ID, clientSecret: env.OIDC_CLIENT_SECRET, label: env.OIDC_LABEL || 'ProConnect' }
        : null,
  };
  return { ...config, ...overrides };
}

/** Whether an address is this machine's loopback (127.0.0.0/8, ::1, their IPv4-mapped form, localhost). */
export function isLoopback(address: string | undefined | null): boolean {
  if (!address) return false;
  const a = address.replace(/^\[|\]$/g, '').toLowerCase();
  return a === 'localhost' || a === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/**
 * Refuses to serve development mode (the outbox with everyone's sign-in links, a public TOTP key)
 * on a network address unless ALLOW_DEV_ON_NETWORK=1 says so; with it, returns a loud warning.
 */
export function checkListenAddress(config: Pick<Config, 'env' | 'host' | 'allowDevOnNetwork'>): string | null {
  if (config.env === 'production' || isLoopback(config.host)) return null;
  if (!config.allowDevOnNetwork) {
    throw new Error(
      `Configuration: HOST=${config.host} in development mode would show every e-mailed sign-in link (/compte/outbox) and use a public 2FA key on the network. ` +
        'Use NODE_ENV=production with SECRET_KEY and SMTP_URL, or HOST=127.0.0.1, or set ALLOW_DEV_ON_NETWORK=1 if this network is yours alone.',
    );
  }
  return `ATTENTION: development mode listening on ${config.host} (ALLOW_DEV_ON_NETWORK=1): anyone who reaches this address can read the development key's 2FA seeds; the outbox stays loopback-only. Never do this on a shared or public network.`;
}
