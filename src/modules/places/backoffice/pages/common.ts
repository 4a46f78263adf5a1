/**
 * What every back-office page needs: the signed-in person, and the resolvers that describe the
 * object of a route to the permission function (a place with its territory codes, a territory…).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../../../platform/module.ts';
import type { App } from '../../../../platform/http/server.ts';
import { UserError } from '../../../../platform/http/errors.ts';
import { currentUser, type CurrentUser, type Resource } from '../../../accounts/index.ts';
import { getPlaceRow } from '../../store.ts';
import * as store from '../store.ts';
import { errorReports, loadTerritory, placeResource, territoryResource, type Territory } from '../service.ts';
import { param, renderFrame, sendHtml, type Frame } from '../ui.ts';

export interface PageDeps {
  app: App;
  ctx: AppContext;
}

export { signedInUser as me } from '../../../accounts/index.ts';

export { csrfOf } from '../../../../platform/http/pages.ts';
import { csrfOf } from '../../../../platform/http/pages.ts';

export function page(deps: PageDeps, reply: FastifyReply, status: number, frame: Omit<Frame, 'csrf'> & { csrf?: string }) {
  const csrf = frame.csrf ?? csrfOf(reply);
  return sendHtml(reply, status, renderFrame(deps.ctx.config.theme, { ...frame, csrf }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string) => UUID.test(s);

/** Resolvers: request → the object the action applies to (null → 404). */
export function resolvers(deps: PageDeps) {
  const db = deps.ctx.db;
  const place = async (uid: string): Promise<Resource | null> => {
    if (!isUuid(uid)) return null;
    const p = await getPlaceRow(db, uid);
    return p ? placeResource(p) : null;
  };
  return {
    /** `:uid` is a place. */
    place: (req: FastifyRequest) => place(param(req, 'uid')),
    /** `:level/:code` is a région or département. */
    territory: async (req: FastifyRequest): Promise<Resource | null> => {
      const t = await loadTerritory(db, param(req, 'level'), param(req, 'code'));
      return t ? territoryResource(t) : null;
    },
    /** `:id` is a claim: its place. */
    claim: async (req: FastifyRequest) => {
      const c = await store.getClaim(db, Number(param(req, 'id')));
      return c ? place(c.placeUid) : null;
    },
    /** `:id` is a pending edit: its place. */
    pendingEdit: async (req: FastifyRequest) => {
      const e = await store.getPendingEdit(db, Number(param(req, 'id')));
      return e ? place(e.placeUid) : null;
    },
    /** `:id` is an error report: its place. */
    report: async (req: FastifyRequest) => {
      const r = await errorReports()?.get(db, Number(param(req, 'id')));
      return r ? place(r.placeUid) : null;
    },
    /** `:a/:b` are two places: the action must be allowed on both (a merge or a dismissal
     *  changes both), checked in the preHandler like every other object. */
    pair: async (req: FastifyRequest) => [await place(param(req, 'a')), await place(param(req, 'b'))],
  };
}

export async function territoryOf(deps: PageDeps, req: FastifyRequest): Promise<Territory> {
  const t = await loadTerritory(deps.ctx.db, param(req, 'level'), param(req, 'code'));
  if (!t) throw new UserError('Territoire inconnu.', 404);
  return t;
}

export function territoryBase(t: Pick<Territory, 'level' | 'code'>): string {
  return `/gestion/territoires/${t.level}/${t.code}`;
}

export function territoryNav(t: Territory, current: string) {
  const base = territoryBase(t);
  const links: [string, string][] = [
    [base, 'Tableau de bord'],
    [`${base}/lieux`, 'Lieux'],
    [`${base}/revendications`, 'Demandes de gestion'],
    [`${base}/moderation`, 'Modération'],
    [`${base}/signalements`, 'Signalements'],
    [`${base}/doublons`, 'Doublons'],
    [`${base}/import`, 'Import'],
  ];
  return links.map(([href, label]) => ({ href, label, current: href === current }));
}
