/**
 * Environment → typed configuration. This is the only file that reads process.env.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Opening hours and "open now" are evaluated in Europe/Paris whatever the server's zone
// (overseas deployments set TZ explicitly).
process.env.TZ = process.env.TZ || 'Europe/Paris';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Default basemap: the national mapping agency's public Plan IGN vector style (no key needed). */
export const PLAN_IGN_STYLE_URL = 'https://data.geopf.fr/annexes/ressources/vectorTiles/styles/PLAN.IGN/standard.json';

/** Who runs the site (SITE_* settings): shown in the header, footer and legal pages. */
export interface Operator {
  /** The organisation that publishes the site, e.g. « Région Normandie ». */
  name: string;
  address: string | null;
  email: string | null;
  phone: string | null;
  /** The organisation's own website. */
  url: string | null;
  /** Directeur ou directrice de la publication. */
  director: string | null;
  /** Hébergeur: name and address. */
  hosting: string | null;
}

export interface Theme {
  siteName: string;
  /** Who runs the site; null when not configured (the legal pages say so; production warns at start-up). */
  operator: Operator | null;
  /** A demonstration: every page says the operator and data are fictional. */
  demo: boolean;
  /** The territory the site covers (`region:28`, `departement:27`…): search hint, initial views. */
  territory: string | null;
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
  /** Vector basemap style (Plan IGN by default); null (`BASEMAP_STYLE_URL=none`): the built-in basemap only. */
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
    port,
    publicUrl: (env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/$/, ''),
    databaseUrl: env.DATABASE_URL || null,
    dataDir: path.resolve(env.DATA_DIR || path.join(projectRoot, 'data')),
    sharedDataDir: path.resolve(env.SHARED_DATA_DIR || path.join(projectRoot, '..', 'shared', 'data')),
    logLevel: env.LOG_LEVEL || (nodeEnv === 'test' ? 'silent' : 'info'),
    theme: {
      siteName: env.SITE_NAME || 'Maillage',
      operator: env.SITE_OPERATOR
        ? {
            name: env.SITE_OPERATOR,
            address: env.SITE_ADDRESS || null,
            email: env.SITE_EMAIL || null,
            phone: env.SITE_PHONE || null,
            url: env.SITE_OPERATOR_URL || null,
            director: env.SITE_PUBLICATION_DIRECTOR || null,
            hosting: env.SITE_HOSTING || null,
          }
        : null,
      demo: env.SITE_DEMO === 'true' || env.SITE_DEMO === '1',
      territory: env.SITE_TERRITORY || null,
      logoUrl: env.SITE_LOGO_URL || null,
      primary: env.THEME_PRIMARY || '#1f5f8b',
      secondary: env.THEME_SECONDARY || '#b3470f',
      sourceUrl: env.SOURCE_URL || null,
    },
    basemapStyleUrl: env.BASEMAP_STYLE_URL === 'none' ? null : env.BASEMAP_STYLE_URL || PLAN_IGN_STYLE_URL,
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

/**
 * The demonstration's operator (`serve --demo` when no SITE_OPERATOR is set): a fictional région,
 * clearly marked as such on every page.
 */
export const DEMO_OPERATOR: Operator = {
  name: 'Région Val-de-Maille (collectivité fictive de démonstration)',
  address: '1 place de la Démonstration, 99999 Maille-sur-Exemple (adresse fictive)',
  email: 'contact@demo.invalid',
  phone: null,
  url: null,
  director: 'La présidente (fictive) de la Région Val-de-Maille',
  hosting: 'Installation de démonstration du logiciel Maillage, sur la machine qui l’a lancée',
};
