/**
 * Accounts use cases: invitations, sign-in (password, magic link, OIDC), sessions, 2FA, password
 * reset, e-mail verification, profile, roles, personal data export and deletion. Every change that
 * matters writes an audit entry in the same transaction.
 */
import { secretKeys, type Config } from '../../platform/config.ts';
import type { Db, Queryable } from '../../platform/db/index.ts';
import type { Logger } from '../../platform/log.ts';
import { UserError } from '../../platform/http/errors.ts';
import { listAudit, recordAudit } from '../../platform/audit/index.ts';
import { notifySignIn } from './signin-listeners.ts';
import {
  encryptSecret,
  hashPassword,
  normaliseRecoveryCode,
  randomToken,
  recoveryCode,
  recoveryCodeHash,
  sha256,
  verifyPassword,
} from './crypto.ts';
import type { Mailer } from './mail.ts';
import {
  FAILURE_WINDOW_MINUTES,
  MAX_FAILURES_PER_EMAIL,
  MAX_FAILURES_PER_IP,
  MAX_SIGNUPS_PER_EMAIL,
  MAX_SIGNUPS_PER_IP,
  ROLE_LABELS,
  UNVERIFIED_RETENTION_DAYS,
  birthYearProblem,
  SCOPE_LABELS,
  TOKEN_MINUTES,
  isEmail,
  normaliseEmail,
  passwordProblem,
  progressiveDelay,
  requiresMfa,
  validateGrant,
  type Role,
  type RoleGrant,
  type ScopeKind,
  type TokenPurpose,
} from './model.ts';
import { checkTotp, newTotpSecret, totpUri } from './totp.ts';
import { openSecret, readUserSecret, recoveryCodeHashes } from './secrets.ts';
import { hasProvidedFactor, verifyProvidedFactor } from './second-factor.ts';

export interface AccountsDeps {
  db: Db;
  config: Config;
  mailer: Mailer;
  log: Logger;
}

export interface ClientInfo {
  ip: string;
  userAgent: string | null;
}

export type UserStatus = 'invited' | 'unverified' | 'active' | 'disabled' | 'deleted';

export interface User {
  id: string;
  email: string;
  displayName: string;
  status: UserStatus;
  emailVerified: boolean;
  pendingEmail: string | null;
  totpEnabled: boolean;
  hasPassword: boolean;
  deletionRequestedAt: string | null;
  deletionReason: string | null;
  lastSigninAt: string | null;
  createdAt: string;
}

interface UserRow {
  id: string;
  email: string;
  display_name: string;
  status: UserStatus;
  email_verified_at: Date | null;
  pending_email: string | null;
  totp_enabled_at: Date | null;
  password_hash: string | null;
  deletion_requested_at: Date | null;
  deletion_reason: string | null;
  last_signin_at: Date | null;
  created_at: Date;
}

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

const USER_COLUMNS =
  'id, email, display_name, status, email_verified_at, pending_email, totp_enabled_at, password_hash, deletion_requested_at, deletion_reason, last_signin_at, created_at';

function toUser(r: UserRow): User {
  return {
    id: r.id,
    email: r.email,
    displayName: r.display_name,
    status: r.status,
    emailVerified: r.email_verified_at !== null,
    pendingEmail: r.pending_email,
    totpEnabled: r.totp_enabled_at !== null,
    hasPassword: r.password_hash !== null,
    deletionRequestedAt: iso(r.deletion_requested_at),
    deletionReason: r.deletion_reason,
    lastSigninAt: iso(r.last_signin_at),
    createdAt: iso(r.created_at)!,
  };
}

/** What an audit entry keeps of a user: no e-mail or name, so the (append-only) trail holds as
 *  little personal data as possible; ids resolve to people through accounts.users. */
function auditUser(u: User) {
  return { status: u.status, totpEnabled: u.totpEnabled, emailVerified: u.emailVerified };
}

/** The current SECRET_KEY (former ones, SECRET_KEY_PREVIOUS, only decrypt: see secrets.ts). */
export function secretKey(config: Config): string {
  return secretKeys(config)[0]!;
}

// ---------------------------------------------------------------------------------------------
// Users and grants

export async function getUser(q: Queryable, id: string): Promise<User | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const { rows } = await q.query<UserRow>(`SELECT ${USER_COLUMNS} FROM accounts.users WHERE id = $1`, [id]);
  return rows[0] ? toUser(rows[0]) : null;
}

export async function findUserByEmail(q: Queryable, email: string): Promise<User | null> {
  const { rows } = await q.query<UserRow>(`SELECT ${USER_COLUMNS} FROM accounts.users WHERE email_key = lower($1)`, [normaliseEmail(email)]);
  return rows[0] ? toUser(rows[0]) : null;
}

export async function listUsers(q: Queryable, search = '', limit = 200): Promise<(User & { grants: RoleGrant[] })[]> {
  const { rows } = await q.query<UserRow>(
    `SELECT ${USER_COLUMNS} FROM accounts.users
     WHERE $1 = '' OR email_key LIKE '%' || lower($1) || '%' OR lower(display_name) LIKE '%' || lower($1) || '%'
     ORDER BY deletion_requested_at IS NULL, email_key LIMIT $2`,
    [search.trim(), limit],
  );
  const users = rows.map(toUser);
  const grants = await grantsOf(q, users.map((u) => u.id));
  return users.map((u) => ({ ...u, grants: grants.get(u.id) ?? [] }));
}

async function grantsOf(q: Queryable, userIds: string[]): Promise<Map<string, RoleGrant[]>> {
  const out = new Map<string, RoleGrant[]>();
  if (!userIds.length) return out;
  const { rows } = await q.query<{ id: string; user_id: string; role: Role; scope_kind: ScopeKind; scope_id: string }>(
    'SELECT id, user_id, role, scope_kind, scope_id FROM accounts.role_grant WHERE user_id = ANY($1::uuid[]) ORDER BY role, scope_kind, scope_id',
    [userIds],
  );
  for (const r of rows) {
    const list = out.get(r.user_id) ?? [];
    list.push({ id: r.id, role: r.role, scopeKind: r.scope_kind, scopeId: r.scope_id });
    out.set(r.user_id, list);
  }
  return out;
}

export async function getGrants(q: Queryable, userId: string): Promise<RoleGrant[]> {
  return (await grantsOf(q, [userId])).get(userId) ?? [];
}

/** Users holding a role on a given scope (e.g. the managers of a place). */
export async function usersWithGrant(q: Queryable, role: Role, scopeKind: ScopeKind, scopeId: string): Promise<User[]> {
  const { rows } = await q.query<UserRow>(
    `SELECT ${USER_COLUMNS.split(', ').map((c) => `u.${c}`).join(', ')} FROM accounts.users u JOIN accounts.role_grant g ON g.user_id = u.id
     WHERE g.role = $1 AND g.scope_kind = $2 AND g.scope_id = $3 AND u.status = 'active' ORDER BY u.email_key`,
    [role, scopeKind, scopeId],
  );
  return rows.map(toUser);
}

function link(config: Config, path: string): string {
  return `${config.publicUrl}${path}`;
}

async function createToken(q: Queryable, userId: string, purpose: TokenPurpose, data: Record<string, unknown> | null = null): Promise<string> {
  const token = randomToken();
  await q.query(
    `INSERT INTO accounts.token (token_hash, user_id, purpose, data, expires_at) VALUES ($1, $2, $3, $4::jsonb, now() + make_interval(mins => $5))`,
    [sha256(token), userId, purpose, data === null ? null : JSON.stringify(data), TOKEN_MINUTES[purpose]],
  );
  return token;
}

/** Looks a link's token up without using it (for the confirmation page). */
export async function peekToken(q: Queryable, token: string, purpose: TokenPurpose): Promise<{ userId: string; data: Record<string, unknown> | null } | null> {
  if (!token || token.length > 100) return null;
  const { rows } = await q.query<{ user_id: string; data: Record<string, unknown> | null }>(
    `SELECT user_id, data FROM accounts.token WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()`,
    [sha256(token), purpose],
  );
  return rows[0] ? { userId: rows[0].user_id, data: rows[0].data } : null;
}

/** Uses a single-use token: atomically marks it used; null if unknown, used or expired. */
async function consumeToken(q: Queryable, token: string, purpose: TokenPurpose): Promise<{ userId: string; data: Record<string, unknown> | null } | null> {
  if (!token || token.length > 100) return null;
  const { rows } = await q.query<{ user_id: string; data: Record<string, unknown> | null }>(
    `UPDATE accounts.token SET used_at = now() WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now() RETURNING user_id, data`,
    [sha256(token), purpose],
  );
  return rows[0] ? { userId: rows[0].user_id, data: rows[0].data } : null;
}

export interface InviteInput {
  email: string;
  displayName: string;
  grant?: { role: string; scopeKind: string; scopeId: string } | null;
}

/**
 * Creates an account by invitation (there is no open sign-up): the person receives a link, valid
 * 7 days, to choose a password. Used by administrators, by the CLI and by the places back office
 * (a claimed place's manager). Returns the user and the invitation link.
 */
export async function inviteUser(deps: AccountsDeps, actorId: string | null, input: InviteInput): Promise<{ user: User; link: string }> {
  const email = normaliseEmail(input.email);
  const displayName = input.displayName.trim();
  if (!isEmail(email)) throw new UserError('Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.', 400, 'email');
  if (!displayName) throw new UserError('Saisissez le nom de la personne.', 400, 'displayName');
  if (displayName.length > 120) throw new UserError('Le nom ne doit pas dépasser 120 caractères.', 400, 'displayName');
  const g = input.grant;
  if (g) {
    const problem = validateGrant(g.role, g.scopeKind, g.scopeId.trim());
    if (problem) throw new UserError(problem, 400, g.scopeKind && problem.includes('code') ? 'scopeId' : 'role');
  }
  const { user, token } = await deps.db.transaction(async (tx) => {
    const existing = await findUserByEmail(tx, email);
    if (existing) throw new UserError('Un compte existe déjà pour cette adresse.', 409, 'email');
    const { rows } = await tx.query<UserRow>(
      `INSERT INTO accounts.users (email, display_name) VALUES ($1, $2) RETURNING ${USER_COLUMNS}`,
      [email, displayName],
    );
    const user = toUser(rows[0]!);
    await recordAudit(tx, { actorId, action: 'accounts.user.invite', objectType: 'user', objectId: user.id, after: auditUser(user) });
    if (g) await insertGrant(tx, actorId, user.id, { role: g.role as Role, scopeKind: g.scopeKind as ScopeKind, scopeId: g.scopeId.trim() });
    const token = await createToken(tx, user.id, 'invite');
    return { user, token };
  });
  const url = link(deps.config, `/compte/invitation/${token}`);
  await deps.mailer.send({
    to: email,
    subject: `Votre compte ${deps.config.theme.siteName}`,
    text: `Bonjour ${displayName},\n\nUn compte a été créé pour vous sur ${deps.config.theme.siteName}.\nPour l’activer et choisir votre mot de passe, ouvrez ce lien (valable 7 jours) :\n\n${url}\n\nSi vous n’attendiez pas ce message, ignorez-le.`,
  });
  return { user, link: url };
}

/** Sends a new invitation link to a user who has not accepted theirs yet. */
export async function resendInvitation(deps: AccountsDeps, actorId: string, userId: string): Promise<string> {
  const user = await getUser(deps.db, userId);
  if (!user || user.status !== 'invited') throw new UserError('Ce compte n’attend pas d’invitation.', 409);
  const token = await deps.db.transaction(async (tx) => {
    await tx.query(`UPDATE accounts.token SET used_at = now() WHERE user_id = $1 AND purpose = 'invite' AND used_at IS NULL`, [userId]);
    await recordAudit(tx, { actorId, action: 'accounts.user.reinvite', objectType: 'user', objectId: userId });
    return createToken(tx, userId, 'invite');
  });
  const url = link(deps.config, `/compte/invitation/${token}`);
  await deps.mailer.send({
    to: user.email,
    subject: `Votre compte ${deps.config.theme.siteName}`,
    text: `Bonjour ${user.displayName},\n\nVoici un nouveau lien pour activer votre compte et choisir votre mot de passe (valable 7 jours) :\n\n${url}\n`,
  });
  return url;
}

export async function acceptInvitation(deps: AccountsDeps, token: string, input: { displayName: string; password: string }): Promise<User> {
  const displayName = input.displayName.trim();
  if (!displayName) throw new UserError('Saisissez votre nom.', 400, 'displayName');
  if (displayName.length > 120) throw new UserError('Le nom ne doit pas dépasser 120 caractères.', 400, 'displayName');
  const peek = await peekToken(deps.db, token, 'invite');
  if (!peek) throw new UserError('Ce lien d’invitation n’est plus valable. Demandez une nouvelle invitation.', 410);
  const user = await getUser(deps.db, peek.userId);
  const problem = passwordProblem(input.password, user?.email, [deps.config.theme.siteName, input.displayName]);
  if (problem) throw new UserError(problem, 400, 'password');
  const hash = await hashPassword(input.password);
  return deps.db.transaction(async (tx) => {
    const used = await consumeToken(tx, token, 'invite');
    if (!used) throw new UserError('Ce lien d’invitation n’est plus valable. Demandez une nouvelle invitation.', 410);
    const { rows } = await tx.query<UserRow>(
      `UPDATE accounts.users SET password_hash = $2, display_name = $3, status = 'active', email_verified_at = coalesce(email_verified_at, now()), updated_at = now()
       WHERE id = $1 AND status = 'invited' RETURNING ${USER_COLUMNS}`,
      [used.userId, hash, displayName],
    );
    if (!rows[0]) throw new UserError('Ce compte ne peut pas être activé.', 409);
    const after = toUser(rows[0]);
    await recordAudit(tx, { actorId: after.id, action: 'accounts.user.activate', objectType: 'user', objectId: after.id, before: { status: 'invited' }, after: auditUser(after) });
    return after;
  });
}

async function insertGrant(tx: Queryable, actorId: string | null, userId: string, g: RoleGrant): Promise<RoleGrant> {
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO accounts.role_grant (user_id, role, scope_kind, scope_id, granted_by) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (user_id, role, scope_kind, scope_id) DO NOTHING RETURNING id`,
    [userId, g.role, g.scopeKind, g.scopeId, actorId],
  );
  if (!rows[0]) throw new UserError('Cette personne a déjà ce rôle sur ce périmètre.', 409, 'role');
  const grant = { id: rows[0].id, role: g.role, scopeKind: g.scopeKind, scopeId: g.scopeId };
  await recordAudit(tx, { actorId, action: 'accounts.role.grant', objectType: 'user', objectId: userId, after: grant });
  return grant;
}

/** Grants a role on a scope (audited). Validates the role/scope pair. */
export async function grantRole(deps: AccountsDeps, actorId: string | null, userId: string, grant: { role: string; scopeKind: string; scopeId: string }): Promise<RoleGrant> {
  const scopeId = grant.scopeKind === 'platform' ? '' : grant.scopeId.trim();
  const problem = validateGrant(grant.role, grant.scopeKind, scopeId);
  if (problem) throw new UserError(problem, 400, problem.startsWith('Le code') || problem.startsWith('L’identifiant') ? 'scopeId' : 'role');
  return deps.db.transaction(async (tx) => {
    const user = await getUser(tx, userId);
    if (!user || user.status === 'deleted') throw new UserError('Compte introuvable.', 404);
    return insertGrant(tx, actorId, userId, { role: grant.role as Role, scopeKind: grant.scopeKind as ScopeKind, scopeId });
  });
}

/**
 * Grants a role inside the caller's transaction (another module's write that the role must follow,
 * e.g. mandates' acceptance of a helper invitation): validated and audited like `grantRole`;
 * false when the account already holds it on that scope (nothing written).
 */
export async function grantRoleWithin(tx: Queryable, actorId: string | null, userId: string, grant: { role: string; scopeKind: string; scopeId: string }): Promise<boolean> {
  const scopeId = grant.scopeKind === 'platform' ? '' : grant.scopeId.trim();
  const problem = validateGrant(grant.role, grant.scopeKind, scopeId);
  if (problem) throw new UserError(problem, 400, 'role');
  const held = await tx.query('SELECT 1 FROM accounts.role_grant WHERE user_id = $1 AND role = $2 AND scope_kind = $3 AND scope_id = $4', [userId, grant.role, grant.scopeKind, scopeId]);
  if (held.rows.length) return false;
  await insertGrant(tx, actorId, userId, { role: grant.role as Role, scopeKind: grant.scopeKind as ScopeKind, scopeId });
  return true;
}

/**
 * Removes a role given by its role and scope inside the caller's transaction (another module's
 * write that the role must follow, e.g. mandates' deactivation of a helper): audited like
 * `revokeRole`; false when the person did not hold it.
 */
export async function revokeRoleWithin(tx: Queryable, actorId: string | null, userId: string, grant: { role: string; scopeKind: string; scopeId: string }): Promise<boolean> {
  const scopeId = grant.scopeKind === 'platform' ? '' : grant.scopeId.trim();
  const { rows } = await tx.query<{ id: string; role: Role; scope_kind: ScopeKind; scope_id: string }>(
    'DELETE FROM accounts.role_grant WHERE user_id = $1 AND role = $2 AND scope_kind = $3 AND scope_id = $4 RETURNING id, role, scope_kind, scope_id',
    [userId, grant.role, grant.scopeKind, scopeId],
  );
  const r = rows[0];
  if (!r) return false;
  await recordAudit(tx, { actorId, action: 'accounts.role.revoke', objectType: 'user', objectId: userId, before: { id: r.id, role: r.role, scopeKind: r.scope_kind, scopeId: r.scope_id } });
  return true;
}

export async function revokeRole(deps: AccountsDeps, actorId: string | null, userId: string, grantId: string): Promise<void> {
  await deps.db.transaction(async (tx) => {
    if (!/^[0-9a-f-]{36}$/i.test(grantId)) throw new UserError('Rôle introuvable.', 404);
    const { rows } = await tx.query<{ id: string; role: Role; scope_kind: ScopeKind; scope_id: string }>(
      'DELETE FROM accounts.role_grant WHERE id = $1 AND user_id = $2 RETURNING id, role, scope_kind, scope_id',
      [grantId, userId],
    );
    const r = rows[0];
    if (!r) throw new UserError('Rôle introuvable.', 404);
    await recordAudit(tx, {
      actorId,
      action: 'accounts.role.revoke',
      objectType: 'user',
      objectId: userId,
      before: { id: r.id, role: r.role, scopeKind: r.scope_kind, scopeId: r.scope_id },
    });
  });
}

/** Removes a role given by its role and scope (e.g. a place's manager), audited; false if absent. */
export async function revokeScopedRole(deps: AccountsDeps, actorId: string | null, userId: string, grant: { role: string; scopeKind: string; scopeId: string }): Promise<boolean> {
  if (!/^[0-9a-f-]{36}$/i.test(userId)) return false;
  const { rows } = await deps.db.query<{ id: string }>(
    'SELECT id FROM accounts.role_grant WHERE user_id = $1 AND role = $2 AND scope_kind = $3 AND scope_id = $4',
    [userId, grant.role, grant.scopeKind, grant.scopeKind === 'platform' ? '' : grant.scopeId],
  );
  if (!rows[0]) return false;
  await revokeRole(deps, actorId, userId, rows[0].id);
  return true;
}

export function describeGrant(g: RoleGrant): string {
  return g.scopeKind === 'platform' ? ROLE_LABELS[g.role] : `${ROLE_LABELS[g.role]} — ${SCOPE_LABELS[g.scopeKind]} ${g.scopeId}`;
}

export async function setUserStatus(deps: AccountsDeps, actorId: string, userId: string, status: 'active' | 'disabled'): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const user = await getUser(tx, userId);
    if (!user || user.status === 'deleted' || user.status === 'invited' || user.status === 'unverified') throw new UserError('Ce compte ne peut pas changer d’état.', 409);
    if (user.status === status) return;
    if (userId === actorId) throw new UserError('Vous ne pouvez pas désactiver votre propre compte.', 409);
    await tx.query('UPDATE accounts.users SET status = $2, updated_at = now() WHERE id = $1', [userId, status]);
    if (status === 'disabled') await tx.query('UPDATE accounts.session SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [userId]);
    await recordAudit(tx, { actorId, action: status === 'disabled' ? 'accounts.user.disable' : 'accounts.user.enable', objectType: 'user', objectId: userId, before: { status: user.status }, after: { status } });
  });
}

// ---------------------------------------------------------------------------------------------
// Sessions

export type SessionStage = 'full' | 'mfa' | 'enrol';

export interface Session {
  id: string;
  tokenHash: string;
  userId: string;
  stage: SessionStage;
  method: string;
  ip: string | null;
  userAgent: string | null;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

interface SessionRow {
  id: string;
  token_hash: string;
  user_id: string;
  stage: SessionStage;
  method: string;
  ip: string | null;
  user_agent: string | null;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
}

function toSession(r: SessionRow): Session {
  return {
    id: r.id,
    tokenHash: r.token_hash,
    userId: r.user_id,
    stage: r.stage,
    method: r.method,
    ip: r.ip,
    userAgent: r.user_agent,
    createdAt: iso(r.created_at)!,
    lastSeenAt: iso(r.last_seen_at)!,
    expiresAt: iso(r.expires_at)!,
  };
}

const SESSION_COLUMNS = 'id, token_hash, user_id, stage, method, ip, user_agent, created_at, last_seen_at, expires_at';

/** The stage a new session starts in: 2FA code expected, 2FA setup required, or signed in. */
export async function initialStage(q: Queryable, user: User): Promise<SessionStage> {
  if (user.totpEnabled) return 'mfa';
  // A second factor of another module (e.g. a helper's TOTP card) is asked for too.
  if (await hasProvidedFactor(q, user.id)) return 'mfa';
  if (requiresMfa(await getGrants(q, user.id))) return 'enrol';
  return 'full';
}

/**
 * Opens a new session (a fresh random id: never the one the browser came with) and revokes the
 * previous one when given. Returns the cookie value.
 */
export async function openSession(
  deps: AccountsDeps,
  user: User,
  stage: SessionStage,
  method: string,
  client: ClientInfo,
  previousToken: string | null,
): Promise<string> {
  const token = randomToken();
  await deps.db.transaction(async (tx) => {
    if (previousToken) await tx.query('UPDATE accounts.session SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL', [sha256(previousToken)]);
    await tx.query(
      `INSERT INTO accounts.session (token_hash, user_id, stage, method, ip, user_agent, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(mins => $7))`,
      [sha256(token), user.id, stage, method, client.ip, client.userAgent?.slice(0, 300) ?? null, stage === 'full' ? deps.config.sessionMaxHours * 60 : 15],
    );
    if (stage === 'full') {
      await tx.query('UPDATE accounts.users SET last_signin_at = now() WHERE id = $1', [user.id]);
      await recordAudit(tx, { actorId: user.id, action: 'accounts.signin', objectType: 'user', objectId: user.id, meta: { method, ip: client.ip } });
      await notifySignIn(tx, { userId: user.id, method, ip: client.ip });
    }
  });
  return token;
}

/** The live session behind a cookie value: not revoked, not past its absolute or idle timeout.
 *  Refreshes its last-seen time (at most once a minute). */
export async function loadSession(deps: AccountsDeps, token: string | undefined | null): Promise<Session | null> {
  if (!token || token.length > 100) return null;
  const { rows } = await deps.db.query<SessionRow>(
    `SELECT ${SESSION_COLUMNS} FROM accounts.session
     WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now() AND last_seen_at > now() - make_interval(mins => $2)`,
    [sha256(token), deps.config.sessionIdleMinutes],
  );
  const r = rows[0];
  if (!r) return null;
  if (Date.now() - new Date(r.last_seen_at).getTime() > 60_000) {
    await deps.db.query('UPDATE accounts.session SET last_seen_at = now() WHERE id = $1', [r.id]);
  }
  return toSession(r);
}

export async function endSession(deps: AccountsDeps, token: string): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ user_id: string; stage: SessionStage }>(
      'UPDATE accounts.session SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL RETURNING user_id, stage',
      [sha256(token)],
    );
    const r = rows[0];
    if (r?.stage === 'full') await recordAudit(tx, { actorId: r.user_id, action: 'accounts.signout', objectType: 'user', objectId: r.user_id });
  });
}

export async function listSessions(q: Queryable, userId: string): Promise<Session[]> {
  const { rows } = await q.query<SessionRow>(
    `SELECT ${SESSION_COLUMNS} FROM accounts.session WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() AND stage = 'full'
     ORDER BY last_seen_at DESC`,
    [userId],
  );
  return rows.map(toSession);
}

export async function revokeSession(deps: AccountsDeps, userId: string, sessionId: string): Promise<boolean> {
  if (!/^[0-9a-f-]{36}$/i.test(sessionId)) return false;
  const r = await deps.db.query('UPDATE accounts.session SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL', [sessionId, userId]);
  if (r.rowCount > 0) await recordAudit(deps.db, { actorId: userId, action: 'accounts.session.revoke', objectType: 'user', objectId: userId, meta: { session: sessionId } });
  return r.rowCount > 0;
}

/** Signs out everywhere (optionally keeping the current session). */
export async function revokeAllSessions(q: Queryable, actorId: string | null, userId: string, keepTokenHash: string | null = null): Promise<number> {
  const r = await q.query(
    'UPDATE accounts.session SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL AND ($2::text IS NULL OR token_hash <> $2)',
    [userId, keepTokenHash],
  );
  await recordAudit(q, { actorId, action: 'accounts.session.revoke_all', objectType: 'user', objectId: userId, meta: { count: r.rowCount, keptCurrent: keepTokenHash !== null } });
  return r.rowCount;
}

// ---------------------------------------------------------------------------------------------
// Sign-in by password, with limits and progressive delays

/**
 * Reserves one attempt under each key, atomically, BEFORE anything is checked, and returns how
 * many attempts each key has had in the current window, this one included. One statement per
 * call (INSERT … ON CONFLICT DO UPDATE … RETURNING): PostgreSQL serialises concurrent updates of
 * a row, so N concurrent requests get the counts 1…N whatever the instance they reach, and
 * those past the limit are refused without evaluating their guess.
 */
async function reserveAttempts(q: Queryable, keys: readonly string[]): Promise<number[]> {
  const { rows } = await q.query<{ key: string; count: number }>(
    `INSERT INTO accounts.attempt AS a (key, window_start, count)
       SELECT k, now(), 1 FROM unnest($1::text[]) AS k
     ON CONFLICT (key) DO UPDATE SET
       count = CASE WHEN a.window_start <= now() - make_interval(mins => $2) THEN 1 ELSE least(a.count + 1, 1000000) END,
       window_start = CASE WHEN a.window_start <= now() - make_interval(mins => $2) THEN now() ELSE a.window_start END
     RETURNING key, count`,
    [keys, FAILURE_WINDOW_MINUTES],
  );
  // Old windows are useless: keep the table small (a few rows at a time, never a long lock).
  if (Math.random() < 0.05) await q.query(`DELETE FROM accounts.attempt WHERE window_start < now() - make_interval(mins => $1)`, [FAILURE_WINDOW_MINUTES * 4]);
  return keys.map((k) => rows.find((r) => r.key === k)!.count);
}

/** A successful attempt: the account's counter starts again; shared counters (an IP address) give it back. */
async function attemptSucceeded(q: Queryable, reset: readonly string[], giveBack: readonly string[] = []): Promise<void> {
  if (reset.length) await q.query('DELETE FROM accounts.attempt WHERE key = ANY($1::text[])', [reset]);
  if (giveBack.length) await q.query('UPDATE accounts.attempt SET count = greatest(count - 1, 0) WHERE key = ANY($1::text[])', [giveBack]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type SigninResult = { kind: 'ok'; user: User } | { kind: 'refused' } | { kind: 'throttled' };

/**
 * Checks an e-mail and password. Unknown addresses, wrong passwords and inactive accounts get the
 * same answer after the same work (a dummy argon2 verification), and failures count per address
 * and per IP whether the account exists or not — nothing tells whether an address has an account.
 */
export async function passwordSignIn(deps: AccountsDeps, emailInput: string, password: string, client: ClientInfo): Promise<SigninResult> {
  const email = normaliseEmail(emailInput).toLowerCase().slice(0, 254);
  const keys = [`email:${email}`, `ip:${client.ip}`];
  // Counted and reserved before the password is looked at: see reserveAttempts.
  const [byEmail, byIp] = (await reserveAttempts(deps.db, keys)) as [number, number];
  if (byEmail > MAX_FAILURES_PER_EMAIL || byIp > MAX_FAILURES_PER_IP) {
    await sleep(progressiveDelay(Math.max(byEmail - 1, 3), deps.config.signinDelayMs));
    return { kind: 'throttled' };
  }
  const delay = progressiveDelay(Math.max(byEmail - 1, Math.floor((byIp - 1) / 5)), deps.config.signinDelayMs);
  if (delay) await sleep(delay);
  const user = await findUserByEmail(deps.db, email);
  const { rows } = user ? await deps.db.query<{ password_hash: string | null }>('SELECT password_hash FROM accounts.users WHERE id = $1', [user.id]) : { rows: [] };
  const ok = await verifyPassword(rows[0]?.password_hash ?? null, password.slice(0, 1024));
  if (!ok || !user || user.status !== 'active') {
    // The failure that reaches the limit on an existing account is audited (once per window, so
    // a brute-force run cannot flood the append-only trail).
    if (user && byEmail === MAX_FAILURES_PER_EMAIL) {
      await recordAudit(deps.db, { actorId: null, action: 'accounts.signin.locked', objectType: 'user', objectId: user.id, meta: { ip: client.ip, failures: byEmail, minutes: FAILURE_WINDOW_MINUTES } });
    }
    return { kind: 'refused' };
  }
  await attemptSucceeded(deps.db, [keys[0]!], [keys[1]!]);
  return { kind: 'ok', user };
}

// ---------------------------------------------------------------------------------------------
// Two-factor authentication

/** Second step of sign-in: a TOTP code or a recovery code. Returns true when accepted. */
export async function verifySecondFactor(deps: AccountsDeps, userId: string, code: string, client: ClientInfo): Promise<boolean> {
  return (await checkSecondFactor(deps, userId, code, client)) === 'ok';
}

/**
 * The same, saying whether the code was evaluated: 'throttled' means the account had used up its
 * attempts of the window (reserved atomically before the check), so the code was not even looked at.
 */
export async function checkSecondFactor(deps: AccountsDeps, userId: string, code: string, client: ClientInfo): Promise<'ok' | 'refused' | 'throttled'> {
  const key = `mfa:${userId}`;
  const [attempts] = (await reserveAttempts(deps.db, [key])) as [number];
  if (attempts > MAX_FAILURES_PER_EMAIL) return 'throttled';
  const delay = progressiveDelay(attempts - 1, deps.config.signinDelayMs);
  if (delay) await sleep(delay);
  const ok = await deps.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ totp_secret: string | null; totp_last_step: number | null }>(
      'SELECT totp_secret, totp_last_step FROM accounts.users WHERE id = $1 FOR UPDATE',
      [userId],
    );
    const row = rows[0];
    if (!row) return false;
    const trimmed = code.trim().slice(0, 100);
    if (/^\d[\d\s]*$/.test(trimmed)) {
      if (row.totp_secret) {
        const step = checkTotp(await readUserSecret(deps, tx, userId, 'totp_secret', row.totp_secret), trimmed, row.totp_last_step === null ? null : Number(row.totp_last_step));
        if (step !== null) {
          await tx.query('UPDATE accounts.users SET totp_last_step = $2 WHERE id = $1', [userId, step]);
          return true;
        }
      }
      // Then the second factors of other modules (a helper's TOTP card), each refusing replays.
      return verifyProvidedFactor(tx, userId, trimmed.replace(/\s/g, ''));
    }
    if (!row.totp_secret) return false;
    const used = await tx.query(
      'UPDATE accounts.recovery_code SET used_at = now() WHERE user_id = $1 AND code_hash = ANY($2::text[]) AND used_at IS NULL',
      [userId, recoveryCodeHashes(deps.config, userId, normaliseRecoveryCode(trimmed))],
    );
    if (used.rowCount === 0) return false;
    await recordAudit(tx, { actorId: userId, action: 'accounts.mfa.recovery_code_used', objectType: 'user', objectId: userId, meta: { ip: client.ip } });
    return true;
  });
  if (!ok) return 'refused';
  await attemptSucceeded(deps.db, [key]);
  return 'ok';
}

/** Starts (or restarts) 2FA setup: a new secret, kept pending until a code confirms it. */
export async function beginTotpSetup(deps: AccountsDeps, user: User): Promise<{ secret: string; uri: string }> {
  const { rows } = await deps.db.query<{ totp_pending_secret: string | null }>('SELECT totp_pending_secret FROM accounts.users WHERE id = $1', [user.id]);
  // A pending seed that no configured key opens any more (SECRET_KEY changed) is simply replaced.
  const pending = rows[0]?.totp_pending_secret ? openSecret(secretKeys(deps.config), rows[0].totp_pending_secret) : null;
  let secret: string;
  if (pending) secret = pending.plaintext;
  else {
    secret = newTotpSecret();
    await deps.db.query('UPDATE accounts.users SET totp_pending_secret = $2 WHERE id = $1', [user.id, encryptSecret(secretKey(deps.config), secret)]);
  }
  return { secret, uri: totpUri(secret, deps.config.theme.siteName, user.email) };
}

/** Confirms 2FA setup with a first code; returns the recovery codes (shown once). */
export async function confirmTotpSetup(deps: AccountsDeps, user: User, code: string, client: ClientInfo): Promise<string[]> {
  return deps.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ totp_pending_secret: string | null }>('SELECT totp_pending_secret FROM accounts.users WHERE id = $1 FOR UPDATE', [user.id]);
    const pending = rows[0]?.totp_pending_secret;
    if (!pending) throw new UserError('Recommencez l’activation : aucune clé en attente.', 409, 'code');
    const step = checkTotp(await readUserSecret(deps, tx, user.id, 'totp_pending_secret', pending), code, null);
    if (step === null) throw new UserError('Ce code ne correspond pas. Vérifiez l’heure de votre téléphone et saisissez le code affiché (6 chiffres).', 400, 'code');
    await tx.query(
      `UPDATE accounts.users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_enabled_at = now(), totp_last_step = $2, updated_at = now() WHERE id = $1`,
      [user.id, step],
    );
    const codes = await replaceRecoveryCodes(deps, tx, user.id);
    await recordAudit(tx, { actorId: user.id, action: 'accounts.mfa.enable', objectType: 'user', objectId: user.id, before: { totpEnabled: false }, after: { totpEnabled: true }, meta: { ip: client.ip } });
    return codes;
  });
}

async function replaceRecoveryCodes(deps: AccountsDeps, tx: Queryable, userId: string): Promise<string[]> {
  await tx.query('DELETE FROM accounts.recovery_code WHERE user_id = $1', [userId]);
  const codes = Array.from({ length: 10 }, recoveryCode);
  const key = secretKey(deps.config);
  for (const c of codes) await tx.query('INSERT INTO accounts.recovery_code (user_id, code_hash) VALUES ($1, $2)', [userId, recoveryCodeHash(key, userId, c)]);
  return codes;
}

export async function regenerateRecoveryCodes(deps: AccountsDeps, user: User, password: string, client: ClientInfo): Promise<string[]> {
  await requirePassword(deps, user, password);
  return deps.db.transaction(async (tx) => {
    const codes = await replaceRecoveryCodes(deps, tx, user.id);
    await recordAudit(tx, { actorId: user.id, action: 'accounts.mfa.recovery_codes', objectType: 'user', objectId: user.id, meta: { ip: client.ip } });
    return codes;
  });
}

export async function remainingRecoveryCodes(q: Queryable, userId: string): Promise<number> {
  const { rows } = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM accounts.recovery_code WHERE user_id = $1 AND used_at IS NULL', [userId]);
  return rows[0]?.n ?? 0;
}

export async function disableTotp(deps: AccountsDeps, user: User, password: string, client: ClientInfo): Promise<void> {
  if (requiresMfa(await getGrants(deps.db, user.id))) throw new UserError('Votre rôle impose la double authentification : elle ne peut pas être désactivée.', 409);
  await requirePassword(deps, user, password);
  await deps.db.transaction(async (tx) => {
    await tx.query('UPDATE accounts.users SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL, updated_at = now() WHERE id = $1', [user.id]);
    await tx.query('DELETE FROM accounts.recovery_code WHERE user_id = $1', [user.id]);
    await recordAudit(tx, { actorId: user.id, action: 'accounts.mfa.disable', objectType: 'user', objectId: user.id, before: { totpEnabled: true }, after: { totpEnabled: false }, meta: { ip: client.ip } });
  });
}

/**
 * An administrator resets someone's 2FA (lost phone and recovery codes): the secret and codes are
 * erased and the person's sessions closed; at the next sign-in a role that requires 2FA sets it up
 * again before anything else.
 */
export async function resetTotpByAdmin(deps: AccountsDeps, actorId: string, userId: string): Promise<void> {
  if (actorId === userId) throw new UserError('Réinitialisez votre propre double authentification depuis votre compte.', 409);
  await deps.db.transaction(async (tx) => {
    const user = await getUser(tx, userId);
    if (!user || user.status === 'deleted') throw new UserError('Compte introuvable.', 404);
    if (!user.totpEnabled) throw new UserError('Ce compte n’a pas de double authentification à réinitialiser.', 409);
    await tx.query('UPDATE accounts.users SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL, updated_at = now() WHERE id = $1', [userId]);
    await tx.query('DELETE FROM accounts.recovery_code WHERE user_id = $1', [userId]);
    await tx.query('UPDATE accounts.session SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [userId]);
    await recordAudit(tx, { actorId, action: 'accounts.mfa.reset', objectType: 'user', objectId: userId, before: { totpEnabled: true }, after: { totpEnabled: false } });
  });
}

/**
 * The signed-in person confirms their password (changing it, recovery codes, switching 2FA off):
 * counted against the same per-account limit as sign-in, so a stolen session cannot guess it.
 */
async function requirePassword(deps: AccountsDeps, user: User, password: string): Promise<void> {
  const { rows } = await deps.db.query<{ password_hash: string | null }>('SELECT password_hash FROM accounts.users WHERE id = $1', [user.id]);
  const hash = rows[0]?.password_hash ?? null;
  if (hash === null) return; // accounts signed in through OIDC only have no password to confirm
  const key = `email:${user.email.toLowerCase()}`;
  const [attempts] = (await reserveAttempts(deps.db, [key])) as [number];
  if (attempts > MAX_FAILURES_PER_EMAIL) throw new UserError(`Trop d’essais de mot de passe : réessayez dans ${FAILURE_WINDOW_MINUTES} minutes.`, 429, 'password', 'too_many_attempts');
  if (!(await verifyPassword(hash, password.slice(0, 1024)))) throw new UserError('Mot de passe incorrect.', 400, 'password');
  await attemptSucceeded(deps.db, [key]);
}

// ---------------------------------------------------------------------------------------------
// Password reset and magic links: always the same answer, whether the account exists or not

async function throttledMail(q: Queryable, userId: string, purpose: TokenPurpose): Promise<boolean> {
  const { rows } = await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM accounts.token WHERE user_id = $1 AND purpose = $2 AND created_at > now() - interval '1 hour'`,
    [userId, purpose],
  );
  return (rows[0]?.n ?? 0) >= 5;
}

/** Requests for links by e-mail, per address and per IP address, over the failure window. */
export const MAX_LINK_REQUESTS_PER_EMAIL = 5;
export const MAX_LINK_REQUESTS_PER_IP = 30;

/**
 * Counts a request for an e-mailed link (reset or magic link) whether the account exists or not,
 * applies the progressive delay, and says whether a message may still be sent. Past the limit the
 * answer is unchanged and nothing is sent, so the limit reveals nothing either.
 */
async function linkRequestAllowed(deps: AccountsDeps, kind: 'reset' | 'magic', email: string, client: ClientInfo): Promise<boolean> {
  const keys = [`${kind}:${normaliseEmail(email).toLowerCase().slice(0, 254)}`, `${kind}-ip:${client.ip}`];
  const [byEmail, byIp] = (await reserveAttempts(deps.db, keys)) as [number, number];
  const delay = progressiveDelay(Math.max(byEmail - 1, Math.floor((byIp - 1) / 5)), deps.config.signinDelayMs);
  if (delay) await sleep(delay);
  return byEmail <= MAX_LINK_REQUESTS_PER_EMAIL && byIp <= MAX_LINK_REQUESTS_PER_IP;
}

export async function requestPasswordReset(deps: AccountsDeps, emailInput: string, client: ClientInfo = { ip: 'unknown', userAgent: null }): Promise<void> {
  if (!(await linkRequestAllowed(deps, 'reset', emailInput, client))) return;
  const user = await findUserByEmail(deps.db, emailInput);
  if (!user || user.status !== 'active' || (await throttledMail(deps.db, user.id, 'reset'))) return;
  const token = await createToken(deps.db, user.id, 'reset');
  await deps.mailer
    .send(
      {
        to: user.email,
        subject: 'Réinitialiser votre mot de passe',
        text: `Bonjour ${user.displayName},\n\nPour choisir un nouveau mot de passe, ouvrez ce lien (valable 30 minutes, une seule fois) :\n\n${link(deps.config, `/compte/reinitialiser/${token}`)}\n\nSi vous n’avez rien demandé, ignorez ce message : votre mot de passe ne change pas.`,
      },
      { background: true, onError: (err) => deps.log.error({ err: err.message }, 'reset mail failed') },
    )
    .catch((err: Error) => deps.log.error({ err: err.message }, 'reset mail failed'));
}

export async function resetPassword(deps: AccountsDeps, token: string, password: string): Promise<User> {
  const peek = await peekToken(deps.db, token, 'reset');
  if (!peek) throw new UserError('Ce lien n’est plus valable. Demandez un nouveau lien.', 410);
  const user = await getUser(deps.db, peek.userId);
  const problem = passwordProblem(password, user?.email, [deps.config.theme.siteName, user?.displayName ?? '']);
  if (problem) throw new UserError(problem, 400, 'password');
  const hash = await hashPassword(password);
  return deps.db.transaction(async (tx) => {
    const used = await consumeToken(tx, token, 'reset');
    if (!used) throw new UserError('Ce lien n’est plus valable. Demandez un nouveau lien.', 410);
    await tx.query('UPDATE accounts.users SET password_hash = $2, updated_at = now() WHERE id = $1', [used.userId, hash]);
    await tx.query('UPDATE accounts.session SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [used.userId]);
    await tx.query(`UPDATE accounts.token SET used_at = now() WHERE user_id = $1 AND purpose IN ('reset', 'magic') AND used_at IS NULL`, [used.userId]);
    await recordAudit(tx, { actorId: used.userId, action: 'accounts.password.reset', objectType: 'user', objectId: used.userId });
    return (await getUser(tx, used.userId))!;
  });
}

export async function requestMagicLink(deps: AccountsDeps, emailInput: string, client: ClientInfo = { ip: 'unknown', userAgent: null }): Promise<void> {
  if (!(await linkRequestAllowed(deps, 'magic', emailInput, client))) return;
  const user = await findUserByEmail(deps.db, emailInput);
  if (!user || user.status !== 'active' || (await throttledMail(deps.db, user.id, 'magic'))) return;
  const token = await createToken(deps.db, user.id, 'magic');
  await deps.mailer
    .send(
      {
        to: user.email,
        subject: 'Votre lien de connexion',
        text: `Bonjour ${user.displayName},\n\nPour vous connecter, ouvrez ce lien (valable 15 minutes, une seule fois) :\n\n${link(deps.config, `/compte/lien/${token}`)}\n\nSi vous n’avez rien demandé, ignorez ce message.`,
      },
      { background: true, onError: (err) => deps.log.error({ err: err.message }, 'magic link mail failed') },
    )
    .catch((err: Error) => deps.log.error({ err: err.message }, 'magic link mail failed'));
}

export async function consumeMagicLink(deps: AccountsDeps, token: string): Promise<User | null> {
  const used = await consumeToken(deps.db, token, 'magic');
  if (!used) return null;
  const user = await getUser(deps.db, used.userId);
  if (!user || user.status !== 'active') return null;
  // A link that reached the inbox proves the address.
  if (!user.emailVerified) await deps.db.query('UPDATE accounts.users SET email_verified_at = now() WHERE id = $1', [user.id]);
  return user;
}

// ---------------------------------------------------------------------------------------------
// Self sign-up of residents: a verified e-mail, no staff role

export interface SignupInput {
  email: string;
  displayName: string;
  password: string;
  /** Declared, checked against SIGNUP_MIN_AGE, never stored. */
  birthYear: string;
  /** Where to go once the address is confirmed (a local path, checked by the page). */
  retour?: string | null;
}

/**
 * What is wrong with a sign-up form, field by field. Nothing here depends on whether the address
 * already has an account, so the answer tells nothing about who is registered.
 */
export function signupProblems(config: Config, input: SignupInput, now = new Date()): { field: string; message: string }[] {
  const errors: { field: string; message: string }[] = [];
  const displayName = input.displayName.trim();
  const email = normaliseEmail(input.email);
  if (!displayName) errors.push({ field: 'displayName', message: 'Saisissez votre nom ou un pseudonyme.' });
  else if (displayName.length > 120) errors.push({ field: 'displayName', message: 'Le nom ne doit pas dépasser 120 caractères.' });
  if (!isEmail(email)) errors.push({ field: 'email', message: 'Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.' });
  const pw = passwordProblem(input.password, email, [config.theme.siteName, displayName]);
  if (pw) errors.push({ field: 'password', message: pw });
  const age = birthYearProblem(input.birthYear, now);
  if (age) errors.push({ field: 'birthYear', message: age });
  return errors;
}

/**
 * Deletes accounts whose sign-up was never confirmed, UNVERIFIED_RETENTION_DAYS after it (at most
 * `limit` at a time); each deletion is audited without personal data. Run at every sign-up and by
 * `maillage accounts purge-unverified` (a daily cron).
 */
export async function purgeUnverified(db: Db, limit = 500): Promise<number> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      `DELETE FROM accounts.users WHERE id IN (
         SELECT id FROM accounts.users WHERE status = 'unverified' AND created_at < now() - make_interval(days => $1) ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [UNVERIFIED_RETENTION_DAYS, limit],
    );
    for (const r of rows) {
      await recordAudit(tx, { actorId: null, action: 'accounts.user.purge_unverified', objectType: 'user', objectId: r.id, before: { status: 'unverified' }, meta: { retentionDays: UNVERIFIED_RETENTION_DAYS } });
    }
    return rows.length;
  });
}

/**
 * A resident asks for an account. Always the same outcome for the caller (a 429 past the limits,
 * which count every request whether the address is known or not): a new address gets an
 * "unverified" account and a confirmation link (24 h, single use); an address still unverified
 * gets a new link; an existing account gets a message saying so (sign in, or reset the password).
 * The password's hash waits in the link's token, so a second sign-up cannot change the password
 * of the first one. Mail goes out in the background, and the hash is computed in every case, so
 * the time taken tells nothing either.
 */
export async function signUp(deps: AccountsDeps, input: SignupInput, client: ClientInfo, now = new Date()): Promise<void> {
  const problems = signupProblems(deps.config, input, now);
  if (problems.length) throw new UserError(problems[0]!.message, 400, problems[0]!.field);
  const email = normaliseEmail(input.email);
  const displayName = input.displayName.trim();
  const [byEmail, byIp] = (await reserveAttempts(deps.db, [`signup:${email.toLowerCase().slice(0, 254)}`, `signup-ip:${client.ip}`])) as [number, number];
  if (byEmail > MAX_SIGNUPS_PER_EMAIL || byIp > MAX_SIGNUPS_PER_IP) {
    throw new UserError(`Trop de demandes de création de compte : réessayez dans ${FAILURE_WINDOW_MINUTES} minutes.`, 429, byEmail > MAX_SIGNUPS_PER_EMAIL ? 'email' : null, 'too_many_attempts');
  }
  const passwordHash = await hashPassword(input.password);
  await purgeUnverified(deps.db, 50);
  const outcome = await deps.db.transaction(async (tx) => {
    const { rows } = await tx.query<UserRow>(
      `INSERT INTO accounts.users (email, display_name, status) VALUES ($1, $2, 'unverified') ON CONFLICT (email_key) DO NOTHING RETURNING ${USER_COLUMNS}`,
      [email, displayName],
    );
    let user = rows[0] ? toUser(rows[0]) : null;
    if (user) {
      await recordAudit(tx, { actorId: null, action: 'accounts.user.signup', objectType: 'user', objectId: user.id, after: auditUser(user) });
    } else {
      user = await findUserByEmail(tx, email);
      if (!user) return null;
      if (user.status !== 'unverified') return { kind: 'exists' as const, user };
      if (await throttledMail(tx, user.id, 'signup')) return null;
    }
    const token = await createToken(tx, user.id, 'signup', { passwordHash, displayName, retour: input.retour ?? null });
    return { kind: 'new' as const, user, token };
  });
  if (!outcome) return;
  const site = deps.config.theme.siteName;
  const onError = (err: Error) => deps.log.error({ err: err.message }, 'sign-up mail failed');
  let mail: { to: string; subject: string; text: string } | null = null;
  if (outcome.kind === 'new') {
    mail = {
      to: email,
      subject: `Confirmez votre adresse pour créer votre compte ${site}`,
      text: `Bonjour ${displayName},\n\nPour confirmer votre adresse et activer votre compte ${site}, ouvrez ce lien (valable 24 heures, une seule fois) :\n\n${link(deps.config, `/compte/inscription/confirmer/${outcome.token}`)}\n\nSans confirmation, la demande est effacée au bout de ${UNVERIFIED_RETENTION_DAYS} jours. Si vous n’avez rien demandé, ignorez ce message.`,
    };
  } else if (outcome.user.status === 'active' || outcome.user.status === 'invited') {
    mail = {
      to: outcome.user.email,
      subject: `Vous avez déjà un compte ${site}`,
      text: `Bonjour,\n\nQuelqu’un (vous, sans doute) a demandé à créer un compte ${site} avec cette adresse, mais un compte existe déjà pour elle.\n\n` +
        (outcome.user.status === 'active'
          ? `Connectez-vous : ${link(deps.config, '/compte/connexion')}\nMot de passe oublié : ${link(deps.config, '/compte/mot-de-passe-oublie')}\n`
          : `Une invitation vous attend : utilisez le lien reçu, ou demandez-en un nouveau à l’équipe de la plateforme.\n`) +
        `\nSi ce n’est pas vous, ignorez ce message : rien n’a changé.`,
    };
  }
  if (mail) await deps.mailer.send(mail, { background: true, onError }).catch(onError);
}

/** The sign-up link is valid (for its confirmation page): the address it confirms. */
export async function peekSignup(q: Queryable, token: string): Promise<{ email: string } | null> {
  const peek = await peekToken(q, token, 'signup');
  if (!peek) return null;
  const user = await getUser(q, peek.userId);
  return user && user.status === 'unverified' ? { email: user.email } : null;
}

/** Uses the sign-up link: the account becomes active with the password chosen at sign-up. */
export async function confirmSignup(deps: AccountsDeps, token: string): Promise<{ user: User; retour: string | null }> {
  return deps.db.transaction(async (tx) => {
    const used = await consumeToken(tx, token, 'signup');
    const data = used?.data;
    if (!used || typeof data?.passwordHash !== 'string' || typeof data.displayName !== 'string') throw new UserError('Ce lien de confirmation n’est plus valable.', 410);
    const { rows } = await tx.query<UserRow>(
      `UPDATE accounts.users SET password_hash = $2, display_name = $3, status = 'active', email_verified_at = now(), updated_at = now()
       WHERE id = $1 AND status = 'unverified' RETURNING ${USER_COLUMNS}`,
      [used.userId, data.passwordHash, data.displayName],
    );
    if (!rows[0]) throw new UserError('Ce lien de confirmation n’est plus valable : le compte est déjà activé. Connectez-vous.', 410);
    await tx.query(`UPDATE accounts.token SET used_at = now() WHERE user_id = $1 AND purpose = 'signup' AND used_at IS NULL`, [used.userId]);
    const user = toUser(rows[0]);
    await recordAudit(tx, { actorId: user.id, action: 'accounts.user.activate', objectType: 'user', objectId: user.id, before: { status: 'unverified' }, after: auditUser(user), meta: { method: 'signup' } });
    return { user, retour: typeof data.retour === 'string' ? data.retour : null };
  });
}

// ---------------------------------------------------------------------------------------------
// Profile, password, e-mail verification

export async function updateProfile(deps: AccountsDeps, user: User, input: { displayName: string; email: string }): Promise<{ emailChangePending: boolean }> {
  const displayName = input.displayName.trim();
  const email = normaliseEmail(input.email);
  if (!displayName) throw new UserError('Saisissez votre nom.', 400, 'displayName');
  if (displayName.length > 120) throw new UserError('Le nom ne doit pas dépasser 120 caractères.', 400, 'displayName');
  if (!isEmail(email)) throw new UserError('Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.', 400, 'email');
  const emailChanged = email.toLowerCase() !== user.email.toLowerCase();
  let token: string | null = null;
  await deps.db.transaction(async (tx) => {
    await tx.query('UPDATE accounts.users SET display_name = $2, updated_at = now() WHERE id = $1', [user.id, displayName]);
    if (emailChanged) {
      await tx.query('UPDATE accounts.users SET pending_email = $2 WHERE id = $1', [user.id, email]);
      await tx.query(`UPDATE accounts.token SET used_at = now() WHERE user_id = $1 AND purpose = 'verify_email' AND used_at IS NULL`, [user.id]);
      token = await createToken(tx, user.id, 'verify_email', { email });
    }
    await recordAudit(tx, { actorId: user.id, action: 'accounts.profile.update', objectType: 'user', objectId: user.id, meta: { nameChanged: displayName !== user.displayName, emailChangeRequested: emailChanged } });
  });
  if (token) {
    // The new address must prove itself; whether it is taken is only checked on confirmation, so
    // this form cannot be used to find out who has an account.
    await deps.mailer.send({
      to: email,
      subject: 'Confirmez votre adresse e-mail',
      text: `Bonjour ${displayName},\n\nPour confirmer cette adresse pour votre compte ${deps.config.theme.siteName}, ouvrez ce lien (valable 24 heures) :\n\n${link(deps.config, `/compte/verifier/${token}`)}\n`,
    });
    await deps.mailer.send({
      to: user.email,
      subject: 'Changement d’adresse e-mail demandé',
      text: `Bonjour ${displayName},\n\nUn changement d’adresse e-mail a été demandé pour votre compte. Si ce n’est pas vous, changez votre mot de passe et prévenez l’équipe.`,
    });
  }
  return { emailChangePending: emailChanged };
}

export async function verifyEmail(deps: AccountsDeps, token: string): Promise<User> {
  return deps.db.transaction(async (tx) => {
    const used = await consumeToken(tx, token, 'verify_email');
    if (!used || typeof used.data?.email !== 'string') throw new UserError('Ce lien de confirmation n’est plus valable.', 410);
    const email = used.data.email;
    const other = await findUserByEmail(tx, email);
    if (other && other.id !== used.userId) throw new UserError('Cette adresse est déjà utilisée par un autre compte.', 409);
    await tx.query('UPDATE accounts.users SET email = $2, pending_email = NULL, email_verified_at = now(), updated_at = now() WHERE id = $1', [used.userId, email]);
    await recordAudit(tx, { actorId: used.userId, action: 'accounts.email.verify', objectType: 'user', objectId: used.userId });
    return (await getUser(tx, used.userId))!;
  });
}

export async function changePassword(deps: AccountsDeps, user: User, current: string, next: string, currentTokenHash: string): Promise<void> {
  await requirePassword(deps, user, current).catch((err: unknown) => {
    if (err instanceof UserError && err.statusCode === 429) throw new UserError(err.message, 429, 'current', err.code);
    throw new UserError('Le mot de passe actuel est incorrect.', 400, 'current');
  });
  const problem = passwordProblem(next, user.email, [deps.config.theme.siteName, user.displayName]);
  if (problem) throw new UserError(problem, 400, 'password');
  const hash = await hashPassword(next);
  await deps.db.transaction(async (tx) => {
    await tx.query('UPDATE accounts.users SET password_hash = $2, updated_at = now() WHERE id = $1', [user.id, hash]);
    await tx.query('UPDATE accounts.session SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL AND token_hash <> $2', [user.id, currentTokenHash]);
    await recordAudit(tx, { actorId: user.id, action: 'accounts.password.change', objectType: 'user', objectId: user.id });
  });
}

// ---------------------------------------------------------------------------------------------
// Personal data: export and deletion

export async function exportPersonalData(q: Queryable, userId: string): Promise<Record<string, unknown>> {
  const user = await getUser(q, userId);
  if (!user) throw new UserError('Compte introuvable.', 404);
  const { rows: identities } = await q.query<{ issuer: string; subject: string; created_at: Date }>(
    'SELECT issuer, subject, created_at FROM accounts.identity WHERE user_id = $1',
    [userId],
  );
  return {
    exportedAt: new Date().toISOString(),
    account: {
      id: user.id,
      email: user.email,
      displayName: user.displayName,
      status: user.status,
      emailVerified: user.emailVerified,
      pendingEmail: user.pendingEmail,
      twoFactorEnabled: user.totpEnabled,
      createdAt: user.createdAt,
      lastSigninAt: user.lastSigninAt,
      deletionRequestedAt: user.deletionRequestedAt,
    },
    roles: (await getGrants(q, userId)).map((g) => ({ role: g.role, scopeKind: g.scopeKind, scopeId: g.scopeId, label: describeGrant(g) })),
    sessions: (await listSessions(q, userId)).map((s) => ({ method: s.method, ip: s.ip, userAgent: s.userAgent, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt })),
    externalIdentities: identities.map((i) => ({ issuer: i.issuer, subject: i.subject, linkedAt: iso(i.created_at) })),
    auditEntries: (await listAudit(q, { actorId: userId, limit: 500 })).map((e) => ({ at: e.at, action: e.action, objectType: e.objectType, objectId: e.objectId })),
  };
}

export async function requestDeletion(deps: AccountsDeps, user: User, reason: string): Promise<void> {
  await deps.db.transaction(async (tx) => {
    await tx.query('UPDATE accounts.users SET deletion_requested_at = now(), deletion_reason = $2 WHERE id = $1', [user.id, reason.trim().slice(0, 2000) || null]);
    await recordAudit(tx, { actorId: user.id, action: 'accounts.user.deletion_request', objectType: 'user', objectId: user.id });
  });
  await deps.mailer.send({
    to: user.email,
    subject: 'Votre demande de suppression de compte',
    text: `Bonjour ${user.displayName},\n\nVotre demande de suppression de compte est enregistrée. Un administrateur la traitera ; vos données personnelles seront alors effacées.`,
  });
}

/**
 * Carries out a deletion: wipes the personal data (e-mail, name, password, 2FA, sessions, links,
 * external identities, roles) but keeps the row, so audit entries still point at an id.
 */
export async function anonymiseUser(deps: AccountsDeps, actorId: string, userId: string): Promise<void> {
  if (actorId === userId) throw new UserError('Un administrateur ne peut pas supprimer son propre compte.', 409);
  await deps.db.transaction(async (tx) => {
    const user = await getUser(tx, userId);
    if (!user || user.status === 'deleted') throw new UserError('Compte introuvable.', 404);
    await tx.query('DELETE FROM accounts.session WHERE user_id = $1', [userId]);
    await tx.query('DELETE FROM accounts.token WHERE user_id = $1', [userId]);
    await tx.query('DELETE FROM accounts.identity WHERE user_id = $1', [userId]);
    await tx.query('DELETE FROM accounts.recovery_code WHERE user_id = $1', [userId]);
    const grants = await getGrants(tx, userId);
    await tx.query('DELETE FROM accounts.role_grant WHERE user_id = $1', [userId]);
    await tx.query(
      `UPDATE accounts.users SET email = 'supprime-' || id || '@invalid', display_name = 'Compte supprimé', password_hash = NULL, pending_email = NULL,
         totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL, deletion_reason = NULL, status = 'deleted', updated_at = now() WHERE id = $1`,
      [userId],
    );
    await recordAudit(tx, { actorId, action: 'accounts.user.delete', objectType: 'user', objectId: userId, before: { ...auditUser(user), grants: grants.length }, after: { status: 'deleted' } });
  });
}
