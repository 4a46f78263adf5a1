/** The back office's access to a process named in the URL, shared by the staff pages. */
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../../../platform/module.ts';
import { ForbiddenError, NotFoundError } from '../../../platform/http/errors.ts';
import { can, requirePermission, signedInUser } from '../../accounts/index.ts';
import * as svc from '../service.ts';

export function staffAccess(ctx: AppContext) {
  const processOf = async (req: FastifyRequest) => {
    const p = await svc.getProcess(ctx.db, (req.params as { slug: string }).slug, { all: true });
    return p ? svc.processResource(p) : null;
  };
  const manageGuard = { preHandler: requirePermission('consultation.manage', processOf) };
  /** The process of the URL, checked again in the handler. */
  const managed = async (req: FastifyRequest) => {
    const u = await signedInUser(req);
    const p = await svc.getProcess(ctx.db, (req.params as { slug: string }).slug, { all: true });
    if (!p) throw new NotFoundError('Concertation introuvable.');
    if (!can(u, 'consultation.manage', svc.processResource(p))) throw new ForbiddenError();
    return { p, u };
  };
  return { processOf, manageGuard, managed };
}
