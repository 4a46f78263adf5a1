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
  /**
   * The demo data is still loading (`serve --demo` listens once the reference data is in, then
   * loads the demo in the background): every page says so. Set and cleared by `serve`.
   */
  demoLoading?: boolean;
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
  /** Vector basemap style (Plan IGN by default); null (`BASEMAP_STYLE_URL=none`): the built-in basemap only. */
  basemapStyleUrl: string | null;
  demoPlaces: number;
  trustProxy: boolean;
  /** Accounts: outgoing mail (SMTP URL, e.g. smtps://user:pass@host:465; none = development outbox only). */
  smtpUrl: string | null;
  mailFrom: string;
  /** Accounts: key protecting secrets at rest (TOTP seeds); required in production. */
  secretKey: string | null;
  /** Former values of SECRET_KEY, still accepted for reading after a rotation (SECRET_KEY_PREVIOUS,
   *  comma-separated); `maillage accounts rekey` re-encrypts everything under SECRET_KEY. */
  secretKeyPrevious: string[];
  /** Key of the audit chain's HMAC (AUDIT_KEY); when unset, derived from SECRET_KEY. */
  auditKey: string | null;
  /** Former audit keys, to verify entries they signed (AUDIT_KEY_PREVIOUS, comma-separated). */
  auditKeyPrevious: string[];
  /** Accounts: session idle and absolute timeouts. */
  sessionIdleMinutes: number;
  sessionMaxHours: number;
  /** Accounts: base of the progressive delay after failed sign-ins (ms). */
  signinDelayMs: number;
  /** Heavy computations a request can trigger (coverage plan, what if) run in worker threads:
   *  how many (COMPUTE_WORKERS), how many may wait (COMPUTE_QUEUE), the budget of one (COMPUTE_TIMEOUT_MS). */
  compute: { workers: number; queue: number; timeoutMs: number };
  /** Accounts: optional OpenID Connect sign-in (e.g. ProConnect). */
  oidc: { issuer: string; clientId: string; clientSecret: string; label: string } | null;
  /** Territories: where the reference geography is downloaded from (see src/modules/territories/README.md). */
  territorySources: TerritorySources;
  /** Mediation: months a followed beneficiary is kept after their last activity, then deleted. */
  mediationRetentionMonths: number;
  /** Months a person's identity is kept after their last mandate ended (MANDATES_RETENTION_MONTHS). */
  mandatesRetentionMonths: number;
  /** Mandates: the person's identity through OpenID Connect (FranceConnect in production: MANDATES_OIDC_*);
   *  null: not configured (outside production the development provider at /dev/identite is used). */
  mandatesIdentity: { issuer: string; clientId: string; clientSecret: string; redirectUri: string | null; scope: string; acrValues: string | null; label: string } | null;
  /** Mandates: the "identity document seen" method kept as a fallback (MANDATES_DOCUMENT_FALLBACK; off in production unless set). */
  mandatesDocumentFallback: boolean;
  /** Mandates: remote consent by SMS. `outbox` (development: stored, shown at /mandats/sms-dev) or
   *  `brevo` (Brevo's transactional SMS API); inbound answers are signed with `webhookSecret`. */
  sms: { provider: 'outbox' | 'brevo'; apiUrl: string; apiKey: string | null; sender: string; webhookSecret: string | null };
}

/** The official published sources of the reference geography; `{year}` stands for the data year. */
export interface TerritorySources {
  /** false: never download (tests; TERRITORIES_SOURCES=off): use SHARED_DATA_DIR or start without geometry. */
  enabled: boolean;
  /** The boundaries' year (`{year}` in the addresses); null: the COG year of @etalab/decoupage-administratif. */
  year: string | null;
  /** geo.api.gouv.fr's list of communes with their centre and population (JSON). */
  centres: string;
  /** Etalab's commune boundaries derived from IGN Admin Express (GeoJSON, gzip). */
  communes: string;
  departements: string;
  regions: string;
  /** Replaces the scheme, host and port of every address (a mirror serving the official paths). */
  mirror: string | null;
  /** Expected SHA-256 of a source's file, by source name (centres, communes, departements, regions). */
  sha256: Record<string, string>;
  /** Give up on a source that sends nothing for this long (ms). */
  timeoutMs: number;
}

const CONTOURS = 'https://etalab-datasets.geo.data.gouv.fr/contours-administratifs/{year}/geojson';

function checksums(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const part of (value ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(centres|communes|departements|regions)=([0-9a-fA-F]{64})$/.exec(part);
    if (!m) throw new Error(`Configuration: TERRITORIES_SOURCE_SHA256 expects "name=<64 hex digits>,…" (names: centres, communes, departements, regions), got "${part}"`);
    out[m[1]!] = m[2]!.toLowerCase();
  }
  return out;
}

function sourceUrl(value: string | undefined, fallback: string, name: string): string {
  const url = value || fallback;
  if (!/^https?:\/\//.test(url)) throw new Error(`Configuration: ${name} must be an http(s) address, got "${url}"`);
  return url;
}

function int(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`Configuration: ${name} must be a non-negative integer, got "${value}"`);
  return n;
}

/** A comma-separated list of keys (empty items dropped; spaces around commas ignored). */
function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/** The key used outside production when SECRET_KEY is unset (public: never protects real data). */
export const DEVELOPMENT_SECRET_KEY = 'maillage-development-secret-key-not-for-production';

/** SECRET_KEY (or the development key outside production), then its former values. */
export function secretKeys(config: Pick<Config, 'secretKey' | 'secretKeyPrevious' | 'env'>): string[] {
  const current = config.secretKey ?? (config.env === 'production' ? null : DEVELOPMENT_SECRET_KEY);
  if (!current || (config.env === 'production' && current === DEVELOPMENT_SECRET_KEY)) throw new Error('SECRET_KEY must be set in production (and not to the development key).');
  return [current, ...config.secretKeyPrevious.filter((k) => k !== current)];
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
    secretKeyPrevious: list(env.SECRET_KEY_PREVIOUS),
    auditKey: env.AUDIT_KEY || null,
    auditKeyPrevious: list(env.AUDIT_KEY_PREVIOUS),
    sessionIdleMinutes: int(env.SESSION_IDLE_MINUTES, 60, 'SESSION_IDLE_MINUTES'),
    sessionMaxHours: int(env.SESSION_MAX_HOURS, 12, 'SESSION_MAX_HOURS'),
    signinDelayMs: int(env.SIGNIN_DELAY_MS, 250, 'SIGNIN_DELAY_MS'),
    compute: {
      workers: Math.max(1, int(env.COMPUTE_WORKERS, 1, 'COMPUTE_WORKERS')),
      queue: int(env.COMPUTE_QUEUE, 8, 'COMPUTE_QUEUE'),
      timeoutMs: Math.max(100, int(env.COMPUTE_TIMEOUT_MS, 10_000, 'COMPUTE_TIMEOUT_MS')),
    },
    oidc:
      env.OIDC_ISSUER && env.OIDC_CLIENT_ID && env.OIDC_CLIENT_SECRET
        ? { issuer: env.OIDC_ISSUER, clientId: env.OIDC_CLIENT_ID, clientSecret: env.OIDC_CLIENT_SECRET, label: env.OIDC_LABEL || 'ProConnect' }
        : null,
    territorySources: {
      enabled: (env.TERRITORIES_SOURCES || (nodeEnv === 'test' ? 'off' : 'official')) !== 'off',
      year: env.TERRITORIES_SOURCE_YEAR || null,
      centres: sourceUrl(
        env.TERRITORIES_SOURCE_CENTRES,
        'https://geo.api.gouv.fr/communes?type=commune-actuelle,arrondissement-municipal&zone=metro,drom,com&fields=code,nom,centre,population&format=json&geometry=centre',
        'TERRITORIES_SOURCE_CENTRES',
      ),
      communes: sourceUrl(env.TERRITORIES_SOURCE_COMMUNES, `${CONTOURS}/communes-100m.geojson.gz`, 'TERRITORIES_SOURCE_COMMUNES'),
      departements: sourceUrl(env.TERRITORIES_SOURCE_DEPARTEMENTS, `${CONTOURS}/departements-1000m.geojson.gz`, 'TERRITORIES_SOURCE_DEPARTEMENTS'),
      regions: sourceUrl(env.TERRITORIES_SOURCE_REGIONS, `${CONTOURS}/regions-1000m.geojson.gz`, 'TERRITORIES_SOURCE_REGIONS'),
      mirror: env.TERRITORIES_SOURCE_MIRROR ? sourceUrl(env.TERRITORIES_SOURCE_MIRROR, '', 'TERRITORIES_SOURCE_MIRROR') : null,
      sha256: checksums(env.TERRITORIES_SOURCE_SHA256),
      timeoutMs: int(env.TERRITORIES_SOURCE_TIMEOUT, 20, 'TERRITORIES_SOURCE_TIMEOUT') * 1000,
    },
    mediationRetentionMonths: int(env.MEDIATION_RETENTION_MONTHS, 24, 'MEDIATION_RETENTION_MONTHS'),
    mandatesRetentionMonths: int(env.MANDATES_RETENTION_MONTHS, 12, 'MANDATES_RETENTION_MONTHS'),
    mandatesIdentity:
      env.MANDATES_OIDC_ISSUER && env.MANDATES_OIDC_CLIENT_ID && env.MANDATES_OIDC_CLIENT_SECRET
        ? {
            issuer: env.MANDATES_OIDC_ISSUER,
            clientId: env.MANDATES_OIDC_CLIENT_ID,
            clientSecret: env.MANDATES_OIDC_CLIENT_SECRET,
            redirectUri: env.MANDATES_OIDC_REDIRECT_URI || null,
            scope: env.MANDATES_OIDC_SCOPE || 'openid given_name family_name birthdate',
            acrValues: env.MANDATES_OIDC_ACR_VALUES || null,
            label: env.MANDATES_OIDC_LABEL || 'FranceConnect',
          }
        : null,
    mandatesDocumentFallback: env.MANDATES_DOCUMENT_FALLBACK ? ['1', 'true', 'on'].includes(env.MANDATES_DOCUMENT_FALLBACK) : nodeEnv !== 'production',
    sms: {
      provider: smsProvider(env.SMS_PROVIDER),
      apiUrl: sourceUrl(env.SMS_API_URL, 'https://api.brevo.com/v3/transactionalSMS/send', 'SMS_API_URL'),
      apiKey: env.SMS_API_KEY || null,
      sender: env.SMS_SENDER || 'Maillage',
      webhookSecret: env.SMS_WEBHOOK_SECRET || null,
    },
  };
  return { ...config, ...overrides };
}

function smsProvider(value: string | undefined): 'outbox' | 'brevo' {
  if (!value || value === 'outbox') return 'outbox';
  if (value === 'brevo') return 'brevo';
  throw new Error(`Configuration: SMS_PROVIDER is "outbox" (development) or "brevo", got "${value}"`);
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
