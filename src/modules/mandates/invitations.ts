/**
 * A helper joins a structure only with their own consent (Aidants Connect's habilitation: the
 * référent requests, the person accepts). The référent's and territory staff's « add a helper by
 * e-mail » invite the account (a pending helper: no role, cannot act, not journalled at sign-in,
 * not counted); the person is told by e-mail and on their /mandats page, and accepts or declines
 * from their own signed-in session.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import { html, type Raw } from '../../platform/html/html.ts';
import { UserError } from '../../platform/http/errors.ts';
import { findUserByEmail, requireSignedIn, sendMail, signedInUser } from '../accounts/index.ts';
import { fmt, frame, one, send } from './pages.ts';
import * as service from './service.ts';

/**
 * « Add a helper by e-mail » (both routes): the account must exist and be active; a new person is
 * invited (an e-mail tells them), a former helper who had accepted is reactivated (their role with them).
 * Returns the message shown to the one who added.
 */
export async function inviteByEmail(req: FastifyRequest, ctx: AppContext, actorId: string, structure: service.Structure, rawEmail: unknown): Promise<string> {
  const email = one(rawEmail).trim();
  if (!email || email.length > 254) throw new UserError('Indiquez l’adresse e-mail du compte de l’aidant.', 400, 'email');
  const u = await findUserByEmail(ctx.db, email);
  if (!u || u.status !== 'active') throw new UserError('Aucun compte actif n’a cette adresse : la personne doit d’abord créer son compte.', 400, 'email');
  const done = await service.inviteHelper(ctx, actorId, structure.id, u.id, u.displayName);
  if (done === 'reactivated') {
    // They accepted this structure before (the helper role came back with the row: inviteHelper).
    return `${u.displayName} est de nouveau aidant de la structure (il l’avait déjà acceptée).`;
  }
  await sendMail(ctx, {
    to: u.email,
    subject: `Invitation à devenir aidant de la structure « ${structure.name} »`,
    text: `Bonjour,\n\nLa structure « ${structure.name} » vous invite à devenir l’un de ses aidants : vous pourriez agir pour des personnes qui lui ont donné un mandat, et vos connexions à Maillage seraient alors inscrites dans le journal de la structure.\n\nRien ne change tant que vous n’avez pas répondu. Pour accepter ou refuser, connectez-vous : ${ctx.config.publicUrl}/mandats\n\nSi vous ne connaissez pas cette structure, refusez l’invitation.\n`,
  }, { background: true });
  return `Invitation envoyée à ${u.displayName} : cette personne deviendra aidante de la structure quand elle l’aura acceptée depuis son compte.`;
}

/** The invitations awaiting this account's answer, with their accept / decline forms (CSRF). */
export async function invitationsSection(ctx: AppContext, userId: string, csrf: string): Promise<Raw | ''> {
  const pending = await service.pendingInvitations(ctx.db, userId);
  if (!pending.length) return '';
  return html`<section class="warn" aria-labelledby="invitations-title"><h2 id="invitations-title">Invitations à devenir aidant</h2>
${pending.map((p) => html`<p>La structure <strong>${p.structureName}</strong> vous a invité le ${fmt(p.invitedAt)} à devenir l’un de ses aidants. Si vous acceptez, vous pourrez agir pour les personnes qui lui donnent un mandat (une fois votre formation enregistrée), et chacune de vos connexions à Maillage sera inscrite dans le journal de la structure, que son équipe et l’équipe régionale peuvent lire.</p>
<form method="post" action="/mandats/invitations/${p.structureId}/accepter" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Accepter de devenir aidant de « ${p.structureName} »</button></form>
<form method="post" action="/mandats/invitations/${p.structureId}/refuser" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Refuser</button></form>`)}
</section>`;
}

export function registerInvitationRoutes(app: App, ctx: AppContext) {
  const own = { preHandler: requireSignedIn, preValidation: app.csrfProtection, config: { rateLimit: { max: 10, timeWindow: '1 minute' } } };
  const structureOf = (req: FastifyRequest) => (req.params as { structureId: string }).structureId;
  const answered = async (req: FastifyRequest, reply: FastifyReply, title: string, body: Raw) => send(reply, 200, frame(ctx, title, body, await signedInUser(req)));
  // Only the invited account answers: the row is looked up by the signed-in user's id (another
  // account, or no invitation pending: 404, nothing written).
  app.post('/mandats/invitations/:structureId/accepter', own, async (req, reply) => {
    const user = await signedInUser(req);
    const name = await service.acceptInvitation(ctx, user.id, structureOf(req));
    return answered(req, reply, 'Invitation acceptée', html`<h1>Invitation acceptée</h1><p class="ok" role="status">Vous êtes aidant de la structure « ${name} ». Son référent enregistre votre formation : vous pourrez ensuite créer des mandats et agir.</p><p><a href="/mandats">Mes mandats</a></p>`);
  });
  // A helper leaves a structure from their own session (their own row only: 404 otherwise).
  app.post('/mandats/mes-structures/:structureId/quitter', own, async (req, reply) => {
    const user = await signedInUser(req);
    const name = await service.leaveStructure(ctx, user.id, structureOf(req));
    return answered(req, reply, 'Structure quittée', html`<h1>Structure quittée</h1><p class="ok" role="status">Vous n’êtes plus aidant de la structure « ${name} » : vous ne pouvez plus agir pour ses mandats, qui restent suivis par ses autres aidants. Son référent peut vous inviter de nouveau ; vous ne redeviendrez aidant que si vous acceptez.</p><p><a href="/">Accueil</a></p>`);
  });
  app.post('/mandats/invitations/:structureId/refuser', own, async (req, reply) => {
    const user = await signedInUser(req);
    const name = await service.declineInvitation(ctx, user.id, structureOf(req));
    return answered(req, reply, 'Invitation refusée', html`<h1>Invitation refusée</h1><p class="ok" role="status">Vous n’êtes pas aidant de la structure « ${name} ». Elle n’a plus aucun accès à votre compte.</p>`);
  });
}
