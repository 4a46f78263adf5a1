/**
 * The file of a proposal over HTTP: uploaded by its author as multipart/form-data while the
 * proposal may be edited (the author is checked before the body is read: `uploadRoute`), removed,
 * and served as a download (attachment, nosniff, sandbox) to whoever may read the proposal — a
 * hidden proposal's file to moderators only.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html } from '../../../platform/html/html.ts';
import { notice } from '../../../platform/html/components.ts';
import { NotFoundError, UserError, ForbiddenError } from '../../../platform/http/errors.ts';
import { acceptMultipart, uploadedFile } from '../../../platform/http/multipart.ts';
import { sendAttachment } from '../../../platform/http/attachment.ts';
import { can, currentUser, uploadRoute } from '../../accounts/index.ts';
import * as svc from '../service.ts';
import { MAX_PROPOSAL_FILE_BYTES, attachProposalFile, proposalFileData, removeProposalFile } from '../proposal-file.ts';
import { page, participant, processHref, send } from './ui.ts';

const LIMIT = { rateLimit: { max: 20, timeWindow: '1 minute' } };

export function registerProposalFilePages(app: App, ctx: AppContext) {
  const load = async (req: FastifyRequest) => {
    const p = await svc.getProcess(ctx.db, (req.params as { slug: string }).slug);
    if (!p) throw new NotFoundError('Concertation introuvable.');
    const n = (req.params as { n: string }).n;
    const pr = /^\d{1,9}$/.test(n) ? await svc.getProposal(ctx.db, p.id, Number(n)) : null;
    if (!pr) throw new NotFoundError('Proposition introuvable.');
    return { p, pr };
  };
  /** Signed in and the proposal's author: run at onRequest (before the body is read) and again before the handler. */
  const authorGuard = async (req: FastifyRequest) => {
    const u = await currentUser(req);
    if (!u) throw new UserError('Connexion requise.', 401, null, 'unauthenticated');
    const { pr } = await load(req);
    if (pr.authorId !== u.id) throw new ForbiddenError();
  };
  /** The file is part of the proposal: it changes only when the text could (proposals open, the person admitted, identity checked if required). */
  const mayChange = async (p: svc.Process, req: FastifyRequest) => {
    const me = await participant(req);
    svc.assertMayTakePart(p, me?.who ?? null, 'proposals', new Date());
    await svc.assertIdentityChecked(ctx.db, p, me!.who, 'proposals');
  };
  const refused = (reply: FastifyReply, p: svc.Process, pr: svc.Proposal, e: unknown) => {
    if (!(e instanceof UserError) || e.statusCode === 404 || e.statusCode === 401 || e.statusCode === 403) throw e;
    const status = e.statusCode === 400 ? 422 : e.statusCode;
    return send(reply, status, page(ctx, 'Erreur : fichier de la proposition', html`<h1>Fichier de la proposition n° ${pr.number}</h1>${notice('error', e.message)}
<p><a href="${processHref(p.slug, `/propositions/${pr.number}`)}#fichier">Retour à la proposition</a></p>`, { noindex: true }));
  };

  void app.register(async (scope) => {
    acceptMultipart(scope, { maxParts: 4 });
    scope.post('/concertations/:slug/propositions/:n/fichier',
      { ...uploadRoute(authorGuard as never, MAX_PROPOSAL_FILE_BYTES + 64 * 1024), preValidation: app.csrfProtection, config: LIMIT },
      async (req, reply) => {
        const u = (await currentUser(req))!;
        const { p, pr } = await load(req);
        try {
          await mayChange(p, req);
          const upload = uploadedFile(req.body, 'file');
          if (!upload) throw new UserError('Fichier : choisissez un fichier à joindre.', 400, 'file');
          await attachProposalFile({ db: ctx.db }, u.id, pr.id, upload);
          return reply.redirect(`${processHref(p.slug, `/propositions/${pr.number}`)}#fichier`, 303);
        } catch (e) {
          return refused(reply, p, pr, e);
        }
      });
  });

  app.post('/concertations/:slug/propositions/:n/fichier/retirer', { preHandler: authorGuard, preValidation: app.csrfProtection, config: LIMIT }, async (req, reply) => {
    const u = (await currentUser(req))!;
    const { p, pr } = await load(req);
    try {
      await mayChange(p, req);
      await removeProposalFile({ db: ctx.db }, u.id, pr.id);
      return reply.redirect(`${processHref(p.slug, `/propositions/${pr.number}`)}#fichier`, 303);
    } catch (e) {
      return refused(reply, p, pr, e);
    }
  });

  app.get('/concertations/:slug/propositions/:n/fichier', async (req, reply) => {
    const { p, pr } = await load(req);
    if (pr.hidden) {
      const u = await currentUser(req);
      if (!u || !can(u, 'consultation.moderate', svc.processResource(p))) throw new NotFoundError('Fichier introuvable.');
    }
    const f = await proposalFileData(ctx.db, pr.id);
    if (!f) throw new NotFoundError('Fichier introuvable.');
    return sendAttachment(reply, f, pr.hidden ? 'private, no-store' : 'no-cache');
  });
}
