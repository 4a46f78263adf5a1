/**
 * Accounts: users, sessions, sign-in (password, magic link, OIDC), 2FA, roles scoped to territories
 * and objects, and the one permission function. The only surface other modules may import.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppContext, ModuleManifest } from '../../platform/module.ts';
import type { App } from '../../platform/http/server.ts';
import { Mailer } from './mail.ts';
import { attachRuntime } from './http.ts';
import { registerAuthPages } from './pages/auth.ts';
import { registerAccountPages } from './pages/account.ts';
import { registerAdminPages } from './pages/admin.ts';
import { registerOidc } from './oidc.ts';
import { purgeAllUnverified, schedulePurge } from './jobs.ts';
import { findUserByEmail, grantRole, inviteUser, secretKey, type AccountsDeps } from './service.ts';
import { UNVERIFIED_RETENTION_DAYS, isRole, type Role, type ScopeKind } from './model.ts';
import { rekeySecrets } from './secrets.ts';
import { auditCommand } from '../../platform/audit/cli.ts';
import { accountsAudit } from './audit-words.ts';

export {
  can,
  scopesFor,
  requiresMfa,
  ACTIONS,
  ROLES,
  ROLE_LABELS,
  ROLE_ACTIONS,
  ROLE_SCOPES,
  SCOPE_LABELS,
  PLATFORM,
  type Action,
  type ActionScopes,
  type Actor,
  type Resource,
  type Role,
  type RoleGrant,
  type ScopeKind,
} from './model.ts';
export {
  currentUser,
  signedInUser,
  requirePermission,
  requireSignedIn,
  uploadRoute,
  TOKEN_ROUTE,
  registeredRoutes,
  guardOf,
  type CurrentUser,
  type ResourceResolver,
  type RegisteredRoute,
  type RouteGuard,
} from './http.ts';
export { getUser, getGrants, findUserByEmail, usersWithGrant, describeGrant, grantRoleWithin, revokeRoleWithin, type User, type InviteInput, type AccountsDeps } from './service.ts';
export { readOutbox, type Mail } from './mail.ts';
/** Second factors of other modules (mandates' TOTP cards), and sealing the secrets they keep. */
export { registerSecondFactor, sealSecret, openSealedSecret, type SecondFactorProvider } from './second-factor.ts';
export { checkTotp, totpCode } from './totp.ts';
/** Sign-in listeners: other modules record a sign-in in the same transaction (e.g. mandates' journal). */
export { onSignIn, type SignInEvent, type SignInListener } from './signin-listeners.ts';
/** Test kit for every module's tests: form client, users with roles, the authorisation matrix. */
export * as accountsTesting from './testing.ts';

import * as service from './service.ts';
import { runtimeOf } from './http.ts';
import type { FastifyRequest } from 'fastify';
import type { Mail } from './mail.ts';

/*
 * For other modules' use cases that act on accounts from a request (e.g. the places back office
 * inviting the manager of a claimed place, granting place_manager on a place, or removing it).
 * Each change is audited with actorId as the actor; the caller has checked the permission
 * (e.g. requirePermission('places.managers.manage', placeResolver)) before calling.
 */

/** Creates an account by invitation (e-mailed link, 7 days) with an optional first role. */
export async function inviteUserFromRequest(req: FastifyRequest, actorId: string | null, input: service.InviteInput) {
  return service.inviteUser(runtimeOf(req), actorId, input);
}
/** Grants a role on a scope; a UserError (409, field "role") if the person already has it. */
export async function grantRoleFromRequest(req: FastifyRequest, actorId: string | null, userId: string, grant: { role: string; scopeKind: string; scopeId: string }) {
  return service.grantRole(runtimeOf(req), actorId, userId, grant);
}
/** Removes a role given by role and scope; false when the person did not have it. */
export async function revokeRoleFromRequest(req: FastifyRequest, actorId: string | null, userId: string, grant: { role: string; scopeKind: string; scopeId: string }) {
  return service.revokeScopedRole(runtimeOf(req), actorId, userId, grant);
}
/** The active holders of a role on a scope, e.g. placeManagers: usersWithGrant(db, 'place_manager', 'place', uid). */
export async function usersWithGrantFromRequest(req: FastifyRequest, role: Role, scopeKind: ScopeKind, scopeId: string) {
  return service.usersWithGrant(runtimeOf(req).db, role, scopeKind, scopeId);
}
const mailers = new WeakMap<object, Mailer>();
/**
 * Sends an e-mail through the platform's mailer outside a request (jobs, other modules' services).
 * With `background`, SMTP delivery is not awaited (failures go to the log), so an answer takes no
 * longer whatever the mail says.
 */
export async function sendMail(ctx: Pick<AppContext, 'db' | 'config'> & Partial<Pick<AppContext, 'log'>>, mail: Mail, o: { background?: boolean } = {}): Promise<void> {
  let mailer = mailers.get(ctx.db);
  if (!mailer) mailers.set(ctx.db, (mailer = new Mailer(ctx.db, ctx.config)));
  return mailer.send(mail, { background: o.background, onError: (err) => ctx.log?.error({ err, subject: mail.subject }, 'mail delivery failed') });
}

/** Sends an e-mail through the platform's mailer (SMTP; the development outbox outside production). */
export async function sendMailFromRequest(req: FastifyRequest, mail: Mail): Promise<void> {
  return runtimeOf(req).mailer.send(mail);
}

const here = path.dirname(fileURLToPath(import.meta.url));

export const accountsModule: ModuleManifest = {
  name: 'accounts',
  migrations: path.join(here, 'migrations'),
  audit: accountsAudit,
  async register(app: App, ctx) {
    secretKey(ctx.config); // fails at start-up in production without SECRET_KEY
    if (ctx.config.env === 'production' && !ctx.config.smtpUrl) ctx.log.warn('SMTP_URL is not set: accounts cannot send e-mail (invitations, resets, links).');
    const deps: AccountsDeps = { db: ctx.db, config: ctx.config, log: ctx.log, mailer: new Mailer(ctx.db, ctx.config) };
    attachRuntime(app, deps);
    registerAuthPages(app, deps);
    registerAccountPages(app, deps);
    registerAdminPages(app, deps);
    registerOidc(app, deps);
    schedulePurge(app, ctx);
  },
  commands: {
    audit: auditCommand,
    accounts: {
      summary: 'Invite a person (prints the invitation link; --role admin makes a platform administrator); rekey: re-encrypt 2FA secrets under the current SECRET_KEY; purge-unverified: delete unconfirmed sign-ups past the retention limit',
      usage: 'accounts invite <email> <name> [--role R --scope-kind K --scope-id ID] | accounts rekey | accounts purge-unverified',
      async run(args, ctx) {
        const [sub, email, ...rest] = args;
        if (sub === 'purge-unverified') {
          const total = await purgeAllUnverified(ctx.db);
          ctx.out(`Unconfirmed sign-ups older than ${UNVERIFIED_RETENTION_DAYS} days deleted: ${total}.`);
          return 0;
        }
        if (sub === 'rekey') {
          if (args.length !== 1) {
            ctx.out('Usage: maillage accounts rekey');
            return 2;
          }
          const r = await rekeySecrets({ config: ctx.config, db: ctx.db });
          ctx.out(`2FA secrets: ${r.rekeyed} re-encrypted under the current SECRET_KEY, ${r.current} already under it.`);
          if (r.undecryptable.length) {
            ctx.out(
              `${r.undecryptable.length} account(s) have a 2FA secret that neither SECRET_KEY nor SECRET_KEY_PREVIOUS decrypts: ${r.undecryptable.join(', ')}. ` +
                'Add the key they were encrypted with to SECRET_KEY_PREVIOUS and run this again, or have an administrator reset their 2FA.',
            );
            return 1;
          }
          ctx.out('SECRET_KEY_PREVIOUS is no longer needed for 2FA secrets; keep it while unused recovery codes made under the former key must still work (or have people regenerate them).');
          return 0;
        }
        const opt = (name: string) => {
          const i = rest.indexOf(name);
          return i >= 0 ? rest[i + 1] : undefined;
        };
        const name = rest.filter((a, i) => !a.startsWith('--') && !(i > 0 && rest[i - 1]!.startsWith('--'))).join(' ');
        if (sub !== 'invite' || !email || !name) {
          ctx.out('Usage: maillage accounts invite <email> <name> [--role admin|regional_staff|… --scope-kind platform|region|departement|place --scope-id ID]');
          return 2;
        }
        const role = opt('--role');
        if (role && !isRole(role)) {
          ctx.out(`Unknown role "${role}".`);
          return 2;
        }
        const scopeKind = opt('--scope-kind') ?? (role === 'admin' ? 'platform' : '');
        const deps: AccountsDeps = { db: ctx.db, config: ctx.config, log: ctx.log, mailer: new Mailer(ctx.db, ctx.config) };
        const existing = await findUserByEmail(ctx.db, email);
        if (existing) {
          if (!role) {
            ctx.out(`An account already exists for ${email}.`);
            return 1;
          }
          await grantRole(deps, null, existing.id, { role, scopeKind, scopeId: opt('--scope-id') ?? '' });
          ctx.out(`Role ${role} granted to the existing account ${email}.`);
          return 0;
        }
        const { link } = await inviteUser(deps, null, { email, displayName: name, grant: role ? { role, scopeKind, scopeId: opt('--scope-id') ?? '' } : null });
        ctx.out(`Invitation sent to ${email}. Link (valid 7 days): ${link}`);
        return 0;
      },
    },
  },
};
