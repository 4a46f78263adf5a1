/**
 * The accounts test kit, for the tests of every module (exported by index.ts as `accountsTesting`):
 * - `Browser`: a form client over app.inject (cookie jar, CSRF token taken from the last page);
 * - `makeUser` / `signedInBrowser`: people with roles (2FA set up for the roles that require it);
 * - the authorisation matrix: `createCast` makes one person per role, scoped to a territory and a
 *   place, and `runAuthorisationMatrix` requests every route of a table as each of them, on an
 *   object inside their scope and one outside, and reports every answer that differs from the table;
 * - `uncoveredRoutes` / `unguardedRoutes`: registered routes missing from a table, or carrying no
 *   permission check.
 * Nothing here is used by the running application.
 */
import type { App } from '../../platform/http/server.ts';
import type { Db } from '../../platform/db/index.ts';
import type { Config } from '../../platform/config.ts';
import { createLogger } from '../../platform/log.ts';
import { readOutbox, Mailer } from './mail.ts';
import { registeredRoutes, runtimeOfApp } from './http.ts';
import { requiresMfa, type RoleGrant } from './model.ts';
import { acceptInvitation, beginTotpSetup, confirmTotpSetup, getGrants, getUser, grantRole, inviteUser, openSession, type AccountsDeps, type User } from './service.ts';
import { totpCode } from './totp.ts';

export interface Res {
  status: number;
  body: string;
  headers: Record<string, unknown>;
  location: string | undefined;
}

/** A browser-like client: keeps cookies, reads the CSRF token of the last page, posts forms. */
export class Browser {
  cookies = new Map<string, string>();
  csrf: string | null = null;
  constructor(
    private readonly app: App,
    readonly ip = '192.0.2.1',
  ) {}

  private absorb(res: { headers: Record<string, unknown>; body: string }) {
    const set = res.headers['set-cookie'];
    for (const c of (Array.isArray(set) ? set : set ? [set] : []) as string[]) {
      const [pair, ...attrs] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      const expired = attrs.some((a) => /max-age=0/i.test(a) || /expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const m = /name="_csrf" value="([^"]+)"/.exec(res.body);
    if (m) this.csrf = m[1]!;
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** GET a download: the raw bytes (an XLSX workbook…) with the status and headers. */
  async download(url: string): Promise<{ status: number; headers: Record<string, unknown>; bytes: Buffer }> {
    const res = await this.app.inject({ method: 'GET', url, remoteAddress: this.ip, headers: { cookie: this.cookieHeader(), 'user-agent': 'test-browser' } });
    return { status: res.statusCode, headers: res.headers, bytes: res.rawPayload };
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<Res> {
    const res = await this.app.inject({ method: 'GET', url, remoteAddress: this.ip, headers: { accept: 'text/html', cookie: this.cookieHeader(), 'user-agent': 'test-browser', ...headers } });
    this.absorb(res);
    return { status: res.statusCode, body: res.body, headers: res.headers, location: res.headers.location as string | undefined };
  }

  /** Posts a form with the CSRF token of the last page (unless csrf: false). */
  async post(url: string, form: Record<string, string | string[]>, o: { csrf?: boolean; headers?: Record<string, string> } = {}): Promise<Res> {
    // A field given as an array is sent once per value (ticked checkboxes).
    const pairs = Object.entries({ ...(o.csrf === false || !this.csrf ? {} : { _csrf: this.csrf }), ...form }).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]]));
    const body = new URLSearchParams(pairs).toString();
    const res = await this.app.inject({
      method: 'POST',
      url,
      remoteAddress: this.ip,
      payload: body,
      headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', cookie: this.cookieHeader(), 'user-agent': 'test-browser', ...o.headers },
    });
    this.absorb(res);
    return { status: res.statusCode, body: res.body, headers: res.headers, location: res.headers.location as string | undefined };
  }

  /** GET the page to get a CSRF token, then POST the form. */
  async submit(pageUrl: string, action: string, form: Record<string, string>): Promise<Res> {
    await this.get(pageUrl);
    return this.post(action, form);
  }

  /** Follows a redirect chain of GETs. */
  async follow(res: Res): Promise<Res> {
    let r = res;
    for (let i = 0; i < 10 && r.location; i++) r = await this.get(r.location);
    return r;
  }

  session(name = 'maillage_session'): string | undefined {
    return this.cookies.get(name);
  }
}

export function depsFor(db: Db, config: Config): AccountsDeps {
  return { db, config, log: createLogger('silent'), mailer: new Mailer(db, config) };
}

/** The accounts runtime of a built app (its database, config and mailer). */
export function depsOf(app: App): AccountsDeps {
  return runtimeOfApp(app);
}

export const PASSWORD = 'une phrase de passe assez longue';

export type TestUser = User & { totpSecret: string | null };

/**
 * Creates an active user (invitation accepted, password PASSWORD) with the given grants. When a
 * grant requires 2FA (admin, regional staff), 2FA is set up too unless `totp: false`; the secret
 * is returned so tests can compute codes (use `nextTotp`: the setup code's step is spent).
 */
export async function makeUser(
  deps: AccountsDeps,
  email: string,
  grants: { role: string; scopeKind: string; scopeId: string }[] = [],
  displayName = 'Personne Test',
  o: { totp?: boolean } = {},
): Promise<TestUser> {
  const { link } = await inviteUser(deps, null, { email, displayName });
  const token = link.split('/').pop()!;
  let user = await acceptInvitation(deps, token, { displayName, password: PASSWORD });
  for (const g of grants) await grantRole(deps, null, user.id, g);
  let totpSecret: string | null = null;
  if (o.totp ?? requiresMfa(grants as RoleGrant[])) {
    totpSecret = (await beginTotpSetup(deps, user)).secret;
    await confirmTotpSetup(deps, user, totpCode(totpSecret), { ip: '192.0.2.1', userAgent: 'test' });
    user = (await getUser(deps.db, user.id))!;
  }
  return Object.assign(user, { totpSecret });
}

/** A TOTP code the server has not seen yet (the next 30-second step). */
export function nextTotp(secret: string): string {
  return totpCode(secret, Date.now() + 30_000);
}

/** A browser already fully signed in as `user` (the sign-in steps are skipped: for authorisation tests). */
export async function signedInBrowser(app: App, deps: AccountsDeps, user: User, ip?: string): Promise<Browser> {
  const b = new Browser(app, ip);
  const token = await openSession(deps, user, 'full', 'password', { ip: ip ?? '192.0.2.1', userAgent: 'test' }, null);
  b.cookies.set('maillage_session', token);
  return b;
}

/** A full session's cookie value for a user (tests that send requests themselves). */
export async function openSessionCookie(app: App, user: User, ip = '192.0.2.1'): Promise<string> {
  return openSession(depsOf(app), user, 'full', 'password', { ip, userAgent: 'test' }, null);
}

/** The last link of a given path prefix e-mailed to an address (from the outbox). */
export async function lastLink(db: Db, email: string, prefix: string): Promise<string> {
  for (const m of await readOutbox(db, email)) {
    const match = new RegExp(`https?://[^\\s]+(${prefix.replace(/\//g, '\\/')}[^\\s]+)`).exec(m.body);
    if (match) return match[1]!;
  }
  throw new Error(`no ${prefix} link e-mailed to ${email}`);
}

// ---------------------------------------------------------------------------------------------
// The authorisation matrix

/** The people of the matrix. Scoped roles are granted on the cast's scope (see createCast). */
export const CAST_ROLES = ['admin', 'staff_region', 'staff_departement', 'manager', 'reviewer', 'mediator', 'helper', 'no_role', 'anonymous'] as const;
export type CastRole = (typeof CAST_ROLES)[number];

/** Everyone who holds some role (the back-office home is theirs). */
export const ANY_ROLE: readonly CastRole[] = ['admin', 'staff_region', 'staff_departement', 'manager', 'reviewer', 'mediator', 'helper'];
/** Everyone signed in. */
export const SIGNED_IN: readonly CastRole[] = [...ANY_ROLE, 'no_role'];

/**
 * Where the cast's scoped roles apply: a région, a département inside it, and a place (id as the
 * places module keys it) inside that département. "Out of scope" objects are anywhere else.
 */
export interface MatrixScope {
  region: string;
  departement: string;
  place: string;
}

export function castGrants(scope: MatrixScope): Record<Exclude<CastRole, 'anonymous'>, { role: string; scopeKind: string; scopeId: string }[]> {
  return {
    admin: [{ role: 'admin', scopeKind: 'platform', scopeId: '' }],
    staff_region: [{ role: 'regional_staff', scopeKind: 'region', scopeId: scope.region }],
    staff_departement: [{ role: 'regional_staff', scopeKind: 'departement', scopeId: scope.departement }],
    manager: [{ role: 'place_manager', scopeKind: 'place', scopeId: scope.place }],
    reviewer: [{ role: 'reviewer', scopeKind: 'region', scopeId: scope.region }],
    mediator: [{ role: 'mediator', scopeKind: 'departement', scopeId: scope.departement }],
    helper: [{ role: 'helper', scopeKind: 'place', scopeId: scope.place }],
    no_role: [],
  };
}

export interface Cast {
  app: App;
  scope: MatrixScope;
  users: Record<Exclude<CastRole, 'anonymous'>, TestUser>;
  /** A signed-in browser (or an anonymous one) holding a CSRF token, each person on its own IP. */
  browser(role: CastRole): Promise<Browser>;
}

let castCount = 0;

/** One person per role, 2FA set up where required, each signed in from a browser of their own. */
export async function createCast(app: App, scope: MatrixScope): Promise<Cast> {
  const deps = depsOf(app);
  const n = ++castCount;
  const grants = castGrants(scope);
  const users = {} as Cast['users'];
  for (const role of Object.keys(grants) as (keyof typeof grants)[]) {
    users[role] = await makeUser(deps, `matrice-${n}-${role.replace(/_/g, '-')}-${Date.now().toString(36)}@exemple.fr`, grants[role], `Matrice ${role}`);
  }
  const browsers = new Map<CastRole, Browser>();
  return {
    app,
    scope,
    users,
    async browser(role) {
      let b = browsers.get(role);
      if (b) return b;
      const ip = `198.51.100.${10 * n + CAST_ROLES.indexOf(role)}`;
      if (role === 'anonymous') {
        b = new Browser(app, ip);
        await b.get('/compte/connexion');
      } else {
        b = await signedInBrowser(app, deps, users[role], ip);
        await b.get('/compte');
      }
      if (!b.csrf) throw new Error(`matrix: no CSRF token for ${role}`);
      browsers.set(role, b);
      return b;
    },
  };
}

type Lazy<T> = T | (() => T | Promise<T>);

export interface MatrixRoute {
  method: 'GET' | 'POST';
  /** The route as registered ('/gestion/lieux/:uid'): lets uncoveredRoutes find routes missing from the table. */
  route: string;
  /** A URL of this route on an object inside the cast's scope (a function: a fresh object for each request). */
  inScope: Lazy<string>;
  /** The same route on an object outside every scoped grant of the cast; omit for platform-wide routes. */
  outOfScope?: Lazy<string>;
  /** Form fields of a POST (CSRF is added). */
  form?: Lazy<Record<string, string>>;
  /** Who may use the route on the in-scope object — written out from the rules, not computed. */
  allowed: readonly CastRole[];
  /** Who may use it on the out-of-scope object (default: admin only). */
  allowedOutOfScope?: readonly CastRole[];
}

/** Tables every request may touch whatever its outcome (session activity, attempt counters,
 *  rate limits): left out of the database state compared around refused requests. */
export const VOLATILE_TABLES: readonly string[] = ['accounts.session', 'accounts.signin_failure', 'accounts.attempt'];
/** Reference data loaded from official files (communes and their outlines): no request writes
 *  it, and counting its 70,000 rows around every request would make the matrix crawl. */
export const REFERENCE_SCHEMAS: readonly string[] = ['territories'];

/**
 * A fingerprint of every table of every schema (but the volatile and reference ones): its row
 * count and the newest transaction that wrote a row of it (xmin), in one query. Any insert,
 * update or delete changes it. `audit` counts the audit entries, for a readable message.
 */
export async function databaseState(db: Db, volatile: readonly string[] = VOLATILE_TABLES): Promise<{ tables: Map<string, string>; audit: number }> {
  const { rows: names } = await db.query<{ schema: string; name: string }>(
    `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg\\_%'
      ORDER BY 1, 2`,
  );
  const watched = names.filter((t) => !REFERENCE_SCHEMAS.includes(t.schema) && !volatile.includes(`${t.schema}.${t.name}`) && !/rate_limit/.test(t.name));
  const q = (id: string) => `"${id.replace(/"/g, '""')}"`;
  const { rows } = await db.query<{ name: string; v: string }>(
    watched
      .map((t) => `SELECT '${`${t.schema}.${t.name}`.replace(/'/g, "''")}' AS name, count(*)::text || '/' || coalesce(max(xmin::text::bigint)::text, '-') AS v FROM ${q(t.schema)}.${q(t.name)}`)
      .join(' UNION ALL '),
  );
  const tables = new Map(rows.map((r) => [r.name, r.v]));
  const audit = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM platform.audit_entry')).rows[0]!.n;
  return { tables, audit };
}

/** What changed between two states ('' when nothing did). */
export function stateChanges(before: Awaited<ReturnType<typeof databaseState>>, after: Awaited<ReturnType<typeof databaseState>>): string {
  const changed = [...after.tables].filter(([name, v]) => before.tables.get(name) !== v).map(([name]) => name);
  for (const name of before.tables.keys()) if (!after.tables.has(name)) changed.push(name);
  const parts: string[] = [];
  if (changed.length) parts.push(`tables written: ${changed.join(', ')}`);
  if (after.audit !== before.audit) parts.push(`${after.audit - before.audit} audit entr${after.audit - before.audit === 1 ? 'y' : 'ies'} added`);
  return parts.join('; ');
}

export interface MatrixCell {
  method: string;
  route: string;
  url: string;
  role: CastRole;
  scope: 'in' | 'out';
  expected: 'allowed' | 'refused';
  status: number;
  location: string | undefined;
  ok: boolean;
  /** For a refused POST: what it changed in the database anyway ('' = nothing, as it must be). */
  changed?: string;
}

async function value<T>(v: Lazy<T>): Promise<T> {
  return typeof v === 'function' ? (v as () => T | Promise<T>)() : v;
}

function refusedAsAnonymous(r: Res): boolean {
  return r.status === 401 || (r.status === 303 && !!r.location?.startsWith('/compte/connexion'));
}

/**
 * Judges an answer. Refused: 403 for someone signed in, 401 or the redirect to the sign-in page for
 * an anonymous visitor. Allowed: anything the route itself answers — a page, a redirect, or a form
 * error (400, 409, 410, 422) — but not a refusal, not a 404 (the in-scope object must exist) and
 * not a server error.
 */
function judge(role: CastRole, expected: 'allowed' | 'refused', r: Res): boolean {
  if (expected === 'refused') return role === 'anonymous' ? refusedAsAnonymous(r) : r.status === 403;
  if (r.status >= 500 || r.status === 404 || r.status === 403 || r.status === 401) return false;
  if (r.status === 303 && (r.location?.startsWith('/compte/connexion') || r.location?.startsWith('/compte/2fa'))) return false;
  return true;
}

/**
 * Runs every route of the table as every person of the cast, in scope and (when given) out of
 * scope. Refusals are requested first, so the allowed requests (which may change things) come
 * last. Around every refused POST the database state is compared (databaseState): a refusal
 * that still wrote a row or an audit entry is a failure, whatever its status code. Returns every
 * cell and a readable line for each cell that went wrong.
 */
export async function runAuthorisationMatrix(cast: Cast, routes: readonly MatrixRoute[]): Promise<{ cells: MatrixCell[]; failures: string[] }> {
  const cells: MatrixCell[] = [];
  const db = depsOf(cast.app).db;
  for (const r of routes) {
    const plan: { role: CastRole; scope: 'in' | 'out'; expected: 'allowed' | 'refused' }[] = [];
    for (const role of CAST_ROLES) {
      plan.push({ role, scope: 'in', expected: r.allowed.includes(role) ? 'allowed' : 'refused' });
      if (r.outOfScope !== undefined) plan.push({ role, scope: 'out', expected: (r.allowedOutOfScope ?? ['admin']).includes(role) ? 'allowed' : 'refused' });
    }
    plan.sort((a, b) => (a.expected === b.expected ? 0 : a.expected === 'refused' ? -1 : 1));
    for (const p of plan) {
      const b = await cast.browser(p.role);
      const url = await value(p.scope === 'in' ? r.inScope : r.outOfScope!);
      const form = r.method === 'POST' ? ((await value(r.form ?? {})) as Record<string, string>) : null;
      const watch = form !== null && p.expected === 'refused';
      const before = watch ? await databaseState(db) : null;
      const res = form === null ? await b.get(url) : await b.post(url, form);
      const changed = before ? stateChanges(before, await databaseState(db)) : undefined;
      cells.push({ method: r.method, route: r.route, url, role: p.role, scope: p.scope, expected: p.expected, status: res.status, location: res.location, ok: judge(p.role, p.expected, res) && !changed, changed });
    }
  }
  const failures = cells
    .filter((c) => !c.ok)
    .map((c) => `${c.method} ${c.url} as ${c.role} (${c.scope === 'in' ? 'in scope' : 'out of scope'}): expected ${c.expected}, got ${c.status}${c.location ? ` → ${c.location}` : ''}${c.changed ? ` and it changed the database (${c.changed})` : ''}`);
  return { cells, failures };
}

/** A compact text table of a matrix run: one line per route, one column per person (✓ allowed, · refused; in/out). */
export function formatMatrix(cells: readonly MatrixCell[]): string {
  const rows = new Map<string, Map<string, string>>();
  for (const c of cells) {
    const key = `${c.method} ${c.route}`;
    const row = rows.get(key) ?? new Map<string, string>();
    const mark = (c.expected === 'allowed' ? '✓' : '·') + (c.ok ? '' : '!');
    row.set(`${c.role}:${c.scope}`, mark);
    rows.set(key, row);
  }
  const head = `route | ${CAST_ROLES.join(' | ')}`;
  const lines = [...rows].map(([route, row]) => `${route} | ${CAST_ROLES.map((r) => `${row.get(`${r}:in`) ?? ' '}/${row.get(`${r}:out`) ?? '-'}`).join(' | ')}`);
  return [head, ...lines].join('\n');
}

const key = (method: string, url: string) => `${method} ${url}`;

/** Registered GET/POST routes under these prefixes that the table does not list ("METHOD /url"). */
export function uncoveredRoutes(app: App, routes: readonly MatrixRoute[], prefixes: readonly string[], except: readonly string[] = []): string[] {
  const listed = new Set(routes.map((r) => key(r.method, r.route)));
  return registeredRoutes(app)
    .filter((r) => (r.method === 'GET' || r.method === 'POST') && prefixes.some((p) => r.url === p || r.url.startsWith(p.endsWith('/') ? p : `${p}/`)))
    .map((r) => key(r.method, r.url))
    .filter((k) => !listed.has(k) && !except.includes(k));
}

/** Registered routes under these prefixes with no requirePermission/requireSignedIn guard, except those listed as public by design. */
export function unguardedRoutes(app: App, prefixes: readonly string[], publicByDesign: readonly string[] = []): string[] {
  return registeredRoutes(app)
    .filter((r) => prefixes.some((p) => r.url === p || r.url.startsWith(p.endsWith('/') ? p : `${p}/`)))
    .filter((r) => r.guard === null)
    .map((r) => key(r.method, r.url))
    .filter((k) => !publicByDesign.includes(k));
}

/** The grants of a cast member as stored (to double-check a fixture). */
export async function grantsOf(app: App, user: User): Promise<RoleGrant[]> {
  return getGrants(depsOf(app).db, user.id);
}
