/** Who may see and change a plan: the plan describes itself as a resource for can(). */
import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../../platform/db/index.ts';
import { NotFoundError } from '../../platform/http/errors.ts';
import { can, currentUser, type Resource, type ResourceResolver } from '../accounts/index.ts';
import type { Plan } from './model.ts';
import { getPlan, territoryOf } from './service.ts';
import * as store from './store.ts';

export function planResource(plan: Pick<Plan, 'id' | 'region' | 'departement'>): Resource {
  return { type: 'roadmap_plan', id: plan.id, region: plan.region, departement: plan.departement };
}

/** A plan the visitor may read: published, or a draft they may read (else 404, drafts stay hidden). */
export async function readablePlan(db: Queryable, req: FastifyRequest, ref: string): Promise<Plan> {
  const plan = await getPlan(db, ref);
  if (!plan) throw new NotFoundError('Cette feuille de route n’existe pas.');
  if (plan.published) return plan;
  const user = await currentUser(req);
  if (can(user, 'roadmap.drafts.read', planResource(plan))) return plan;
  throw new NotFoundError('Cette feuille de route n’existe pas.');
}

export async function canReadDrafts(req: FastifyRequest, plan: Plan): Promise<boolean> {
  return can(await currentUser(req), 'roadmap.drafts.read', planResource(plan));
}

export async function canEdit(req: FastifyRequest, plan: Plan): Promise<boolean> {
  return can(await currentUser(req), 'roadmap.edit', planResource(plan));
}

/** Resolver for requirePermission: the plan named by the route's :plan parameter. */
export function planResolver(db: Queryable): ResourceResolver {
  return async (req) => {
    const ref = (req.params as { plan?: string }).plan ?? '';
    const plan = await getPlan(db, ref);
    return plan ? planResource(plan) : null;
  };
}

/** Resolver for a node route (:node): its plan, which must also be the :plan of the URL when given. */
export function nodeResolver(db: Queryable): ResourceResolver {
  return async (req) => {
    const params = req.params as { plan?: string; node?: string };
    const node = await store.nodeById(db, params.node ?? '');
    if (!node) return null;
    const plan = await store.planById(db, node.planId);
    if (!plan) return null;
    if (params.plan && params.plan !== plan.slug && params.plan !== plan.id) return null;
    return planResource(plan);
  };
}

/** Resolver for creating a plan or a body: the territory named in the form (checked like a plan of it). */
export function territoryBodyResolver(db: Queryable): ResourceResolver {
  return async (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const t = (body.territory ?? {}) as Record<string, unknown>;
    const level = t.level ?? body.territory_level;
    const code = t.code ?? body.territory_code;
    try {
      const r = await territoryOf(db, level, code);
      return { type: 'roadmap_plan', region: r.region, departement: r.departement };
    } catch {
      // Unknown territory: only platform-wide rights pass, and the use case then names the field.
      return { type: 'roadmap_plan' };
    }
  };
}
