/**
 * The HTTP side of accounts that every module uses: the session cookie, `currentUser(req)` and the
 * `requirePermission(action, resolver)` preHandler. Works on routes of any module: the accounts
 * runtime is attached to the root server when the accounts module registers.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { html } from '../../platform/html/html.ts';
import { sha256 } from './crypto.ts';
import { hasProvidedFactor } from './second-factor.ts';
import { PLATFORM, can, requiresMfa, type Action, type Actor, type Resource, type RoleGrant } from './model.ts';
import { getGrants, getUser, loadSession, type AccountsDeps, type ClientInfo, type Session, type User } from './service.ts';
import { renderPage } from './pages/ui.ts';

const RUNTIME = Symbol.for('maillage.accounts.runtime');
const ROUTES = Symbol.for('maillage.accounts.routes');
const GUARD = Symbol.for('maillage.accounts.guard');

/** What protects a route: a permission (action, on the platform or on a resolved object), or
 *  simply being signed in. Read from the preHandlers that requirePermission/requireSignedIn make. */
export type RouteGuard = { kind: 'permission'; action: Action; scoped: boolean } | { kind: 'signed-in' };

/** A route as registered, with its guard (null: open to anyone). */
export interface RegisteredRoute {
  method: string;
  url: string;
  guard: RouteGuard | null;
}

function markGuard<T extends object>(fn: T, guard: RouteGuard): T {
  Object.defineProperty(fn, GUARD, { value: guard });
  return fn;
}

/** The guard among a route's preHandler(s), if any. */
export function guardOf(preHandler: unknown): RouteGuard | null {
  const list = Array.isArray(preHandler) ? preHandler : preHandler ? [preHandler] : [];
  for (const fn of list) {
    const g = (fn as Record<symbol, RouteGuard | undefined>)[GUARD];
    if (g) return g;
  }
  return null;
}

function rootOf(scope: object): object {
  let root: object = scope;
  while (Object.getPrototypeOf(root) && Object.getPrototypeOf(root) !== Object.prototype) root = Object.getPrototypeOf(root);
  return root;
}

/**
 * Attaches the accounts runtime to the root server (so requirePermission works on every module's
 * routes) and starts recording every route registered from now on with its guard: the
 * authorisation tests use that record to make sure no back-office route is left unchecked.
 */
export function attachRuntime(scope: App, deps: AccountsDeps): void {
  const root = rootOf(scope);
  Object.defineProperty(root, RUNTIME, { value: deps, configurable: true });
  const routes: RegisteredRoute[] = [];
  Object.defineProperty(root, ROUTES, { value: routes, configurable: true });
  const onRoute = (opts: { method: string | string[]; url: string; preHandler?: unknown }) => {
    for (const method of Array.isArray(opts.method) ? opts.method : [opts.method]) {
      if (method === 'HEAD') continue;
      routes.push({ method, url: opts.url, guard: guardOf(opts.preHandler) });
    }
  };
  // Module scopes copy their parent's hooks when created: the root's hook reaches the modules
  // registered after accounts; this scope's own routes need the hook on the scope itself.
  (root as App).addHook('onRoute', onRoute);
  if (root !== scope) scope.addHook('onRoute', onRoute);
}

/** Every route registered after the accounts module (all modules' pages and API), with its guard. */
export function registeredRoutes(app: object): readonly RegisteredRoute[] {
  return ((rootOf(app) as Record<symbol, RegisteredRoute[] | undefined>)[ROUTES] ?? []).slice();
}

/** The accounts runtime of a built server (tests, tools). */
export function runtimeOfApp(app: object): AccountsDeps {
  const deps = (rootOf(app) as Record<symbol, AccountsDeps | undefined>)[RUNTIME];
  if (!deps) throw new Error('The accounts module is not registered on this server.');
  return deps;
}

export function runtimeOf(req: FastifyRequest): AccountsDeps {
  const deps = (req.server as unknown as Record<symbol, AccountsDeps | undefined>)[RUNTIME];
  if (!deps) throw new Error('The accounts module is not registered on this server.');
  return deps;
}

/** The signed-in person, as every module sees them. */
export interface CurrentUser extends Actor {
  id: string;
  email: string;
  displayName: string;
  totpEnabled: boolean;
  grants: RoleGrant[];
  user: User;
  session: Session;
}

export function sessionCookieName(deps: AccountsDeps): string {
  // __Host- cookies must be Secure, host-only and on path "/": the browser enforces it.
  return deps.config.env === 'production' ? '__Host-maillage_session' : 'maillage_session';
}

export function setSessionCookie(reply: FastifyReply, deps: AccountsDeps, token: string): void {
  reply.setCookie(sessionCookieName(deps), token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: deps.config.env === 'production',
    maxAge: deps.config.sessionMaxHours * 3600,
  });
}

export function clearSessionCookie(reply: FastifyReply, deps: AccountsDeps): void {
  reply.clearCookie(sessionCookieName(deps), { path: '/', httpOnly: true, sameSite: 'lax', secure: deps.config.env === 'production' });
}

export function sessionToken(req: FastifyRequest): string | null {
  const deps = runtimeOf(req);
  return req.cookies?.[sessionCookieName(deps)] ?? null;
}

export function clientInfo(req: FastifyRequest): ClientInfo {
  return { ip: req.ip, userAgent: (req.headers['user-agent'] as string | undefined) ?? null };
}

interface Resolved {
  session: Session;
  user: User;
  grants: RoleGrant[];
}

const cache = new WeakMap<FastifyRequest, Promise<Resolved | null>>();

/** The session behind the request's cookie, whatever its stage (used by the sign-in steps). */
export function resolveSession(req: FastifyRequest): Promise<Resolved | null> {
  let p = cache.get(req);
  if (!p) {
    p = (async () => {
      const deps = runtimeOf(req);
      const session = await loadSession(deps, sessionToken(req));
      if (!session) return null;
      const user = await getUser(deps.db, session.userId);
      if (!user || user.status !== 'active') return null;
      const grants = await getGrants(deps.db, user.id);
      // A role that requires 2FA, granted to someone signed in without it: no access until they
      // set it up (the session is treated as being at the enrolment step).
      if (session.stage === 'full' && !user.totpEnabled && requiresMfa(grants) && !(await hasProvidedFactor(deps.db, user.id))) return { session: { ...session, stage: 'enrol' as const }, user, grants };
      return { session, user, grants };
    })();
    cache.set(req, p);
  }
  return p;
}

/** Forgets what was resolved for this request (after sign-in or sign-out within the request). */
export function forgetSession(req: FastifyRequest): void {
  cache.delete(req);
}

/** The signed-in user (fully: second factor done), or null. */
/** The signed-in person, or a 401 « Connexion requise. » for pages that need one. */
export async function signedInUser(req: FastifyRequest): Promise<CurrentUser> {
  const u = await currentUser(req);
  if (!u) throw new UserError('Connexion requise.', 401);
  return u;
}

export async function currentUser(req: FastifyRequest): Promise<CurrentUser | null> {
  const r = await resolveSession(req);
  if (!r || r.session.stage !== 'full') return null;
  return {
    id: r.user.id,
    email: r.user.email,
    displayName: r.user.displayName,
    totpEnabled: r.user.totpEnabled,
    grants: r.grants,
    user: r.user,
    session: r.session,
  };
}

/** The hash of the current session's token (to keep this session when signing out elsewhere). */
export function currentTokenHash(req: FastifyRequest): string | null {
  const t = sessionToken(req);
  return t ? sha256(t) : null;
}

function wantsHtml(req: FastifyRequest): boolean {
  return !req.url.startsWith('/api/') && (req.headers.accept ?? '').includes('text/html');
}

/** Where to send someone who must sign in first (a GET page), or a 401 for anything else. */
export async function refuseAnonymous(req: FastifyRequest, reply: FastifyReply) {
  const r = await resolveSession(req);
  if (req.method === 'GET' && wantsHtml(req)) {
    if (r?.session.stage === 'mfa') return reply.redirect('/compte/connexion/code', 303);
    if (r?.session.stage === 'enrol') return reply.redirect('/compte/2fa', 303);
    return reply.redirect(`/compte/connexion?retour=${encodeURIComponent(req.url)}`, 303);
  }
  reply.status(401);
  if (wantsHtml(req)) {
    return reply.type('text/html; charset=utf-8').send(
      renderPage(runtimeOf(req), {
        title: 'Connexion requise',
        body: html`<h1>Connexion requise</h1><p>Votre session a expiré ou vous n’êtes pas connecté.</p><p><a href="/compte/connexion">Se connecter</a></p>`,
      }),
    );
  }
  return reply.send({ error: 'unauthenticated', message: 'Connexion requise.' });
}

export async function refuseForbidden(req: FastifyRequest, reply: FastifyReply) {
  reply.status(403);
  if (wantsHtml(req)) {
    return reply.type('text/html; charset=utf-8').send(
      renderPage(runtimeOf(req), {
        title: 'Accès refusé',
        user: await currentUser(req),
        csrf: reply.generateCsrf(),
        body: html`<h1>Accès refusé</h1><p>Votre rôle ne vous permet pas d’accéder à cette page ou de faire cette action.</p><p><a href="/gestion">Retour à l’espace de gestion</a></p>`,
      }),
    );
  }
  return reply.send({ error: 'forbidden', message: 'Action non autorisée pour votre rôle.' });
}

/** The object(s) a request acts on; with several (e.g. the two places of a merge), the action
 *  must be allowed on every one of them. null, or any null in the list → 404. */
export type ResourceResolver = (req: FastifyRequest) => Resource | readonly (Resource | null)[] | null | Promise<Resource | readonly (Resource | null)[] | null>;

/**
 * A preHandler: signed in, then `can(user, action, resolve(req))`. The resolver describes the
 * object from the request (e.g. loads a place and returns its id and territory codes); null → 404.
 * Without a resolver the object is the platform itself.
 *
 *   app.get('/gestion/lieux/:id', { preHandler: requirePermission('places.edit', placeResource) }, …)
 */
export function requirePermission(action: Action, resolve?: ResourceResolver) {
  return markGuard(
    async function permissionCheck(req: FastifyRequest, reply: FastifyReply) {
      const user = await currentUser(req);
      if (!user) return refuseAnonymous(req, reply);
      const resolved = resolve ? await resolve(req) : PLATFORM;
      const resources = Array.isArray(resolved) ? (resolved as readonly (Resource | null)[]) : [resolved as Resource | null];
      if (!resources.length || resources.some((r) => !r)) throw new NotFoundError('Cet élément n’existe pas.');
      if (!resources.every((r) => can(user, action, r!))) return refuseForbidden(req, reply);
    },
    { kind: 'permission', action, scoped: !!resolve },
  );
}

/** A preHandler for pages any signed-in person may open (their account, a claim request). */
export const requireSignedIn = markGuard(
  async function requireSignedIn(req: FastifyRequest, reply: FastifyReply) {
    if (!(await currentUser(req))) return refuseAnonymous(req, reply);
  },
  { kind: 'signed-in' },
);

/**
 * Options for a route that takes an upload larger than the server's default body limit: the
 * larger `bodyLimit`, and the route's guard run at `onRequest` — before the body is read — as
 * well as at `preHandler` (where the route record and the tests look for it). Someone who may
 * not use the route is refused without the server reading, buffering or parsing the body.
 *
 *   app.post(url, { preValidation: app.csrfProtection, ...uploadRoute(guard, 50 * 2 ** 20) }, handler)
 */
export function uploadRoute(guard: ReturnType<typeof requirePermission>, bodyLimit: number) {
  return { bodyLimit, onRequest: guard, preHandler: guard };
}

/**
 * Options for a route whose URL carries a secret (a link e-mailed to sign in, reset a password,
 * accept an invitation, confirm an address or a claim): its request line is not logged at all
 * (level warn). Every other log line has its URL redacted anyway (platform/log.ts `redactUrl`).
 */
export const TOKEN_ROUTE = { logLevel: 'warn' as const };
