/**
 * Accounts: users, sessions, sign-in (password, magic link, OIDC), 2FA, roles scoped to territories
 * and objects, and the one permission function. The only surface other modules may import.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../../platform/module.ts';
import type { App } from '../../platform/http/server.ts';
import { verifyAudit } from '../../platform/audit/index.ts';
import { Mailer } from './mail.ts';
import { attachRuntime } from './http.ts';
import { registerAuthPages } from './pages/auth.ts';
import { registerAccountPages } from './pages/account.ts';
import { registerAdminPages } from './pages/admin.ts';
import { registerOidc } from './oidc.ts';
import { findUserByEmail, grantRole, inviteUser, secretKey, type AccountsDeps } from './service.ts';
import { isRole } from './model.ts';

export { can, ACTIONS, ROLES, ROLE_LABELS, ROLE_ACTIONS, PLATFORM, type Action, type Actor, type Resource, type Role, type RoleGrant, type ScopeKind } from './model.ts';
export { currentUser, requirePermission, requireSignedIn, type CurrentUser, type ResourceResolver } from './http.ts';
export { getUser, findUserByEmail, usersWithGrant, type User } from './service.ts';
export { readOutbox } from './mail.ts';

import * as service from './service.ts';
import { runtimeOf } from './http.ts';
import type { FastifyRequest } from 'fastify';

/**
 * For other modules' use cases that act on accounts from a request (e.g. the places back office
 * inviting the manager of a claimed place, or granting place_manager on a place). Audited.
 */
export async function inviteUserFromRequest(req: FastifyRequest, actorId: string, input: service.InviteInput) {
  return service.inviteUser(runtimeOf(req), actorId, input);
}
export async function grantRoleFromRequest(req: FastifyRequest, actorId: string, userId: string, grant: { role: string; scopeKind: string; scopeId: string }) {
  return service.grantRole(runtimeOf(req), actorId, userId, grant);
}

const here = path.dirname(fileURLToPath(import.meta.url));

export const accountsModule: ModuleManifest = {
  name: 'accounts',
  migrations: path.join(here, 'migrations'),
  async register(app: App, ctx) {
    secretKey(ctx.config); // fails at start-up in production without SECRET_KEY
    if (ctx.config.env === 'production' && !ctx.config.smtpUrl) ctx.log.warn('SMTP_URL is not set: accounts cannot send e-mail (invitations, resets, links).');
    const deps: AccountsDeps = { db: ctx.db, config: ctx.config, log: ctx.log, mailer: new Mailer(ctx.db, ctx.config) };
    attachRuntime(app, deps);
    registerAuthPages(app, deps);
    registerAccountPages(app, deps);
    registerAdminPages(app, deps);
    registerOidc(app, deps);
  },
  commands: {
    audit: {
      summary: 'Check the audit trail: every entry, its hash and its link to the previous one',
      usage: 'audit verify',
      async run(args, ctx) {
        if (args[0] !== 'verify') {
          ctx.out('Usage: maillage audit verify');
          return 2;
        }
        const r = await verifyAudit(ctx.db);
        if (r.ok) {
          ctx.out(`Audit trail intact: ${r.count} entries, head ${r.headHash}.`);
          return 0;
        }
        ctx.out(`Audit trail BROKEN at entry ${r.seq}: ${r.reason}. ${r.count} entries before it verified.`);
        return 1;
      },
    },
    accounts: {
      summary: 'Invite a person (prints the invitation link); --role admin makes a platform administrator',
      usage: 'accounts invite <email> <name> [--role R --scope-kind K --scope-id ID]',
      async run(args, ctx) {
        const [sub, email, ...rest] = args;
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
