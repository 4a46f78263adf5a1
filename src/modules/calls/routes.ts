/**
 * JSON API under /api/v1/calls (zod schemas, in the OpenAPI document): open calls, one call with
 * its current form, the SCDL grants export. Plus the grant pages (staff) and the public page of
 * grants saying which are published.
 */
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import { html, raw } from '../../platform/html/html.ts';
import { NotFoundError, UserError } from '../../platform/http/errors.ts';
import { can, currentUser, requirePermission, type CurrentUser } from '../accounts/index.ts';
import { formatEuros } from './model.ts';
import * as service from './service.ts';
import * as grants from './grants.ts';
import * as labels from './labels.ts';
import { ceilingsOf } from './ceilings.ts';
import { getPlacesByUids } from '../places/index.ts';
import { csrfOf, errorBox, formBody, me, plural, renderFrame, send, str } from './pages/ui.ts';

const tags = ['calls'];
/** The public grant pages and files: computed once per version of the grants (grants.publishedScdl), and per address at most this often. */
const EXPORT_LIMIT = { rateLimit: { max: 30, timeWindow: '1 minute' } };
const GRANTS_PER_PAGE = 200;

const CallSchema = z.object({
  slug: z.string(),
  kind: z.enum(['aap', 'ami', 'label']),
  title: z.string(),
  summary: z.string(),
  eligibleTypes: z.array(z.string()),
  region: z.string(),
  departements: z.array(z.string()),
  stages: z.number().int(),
  opensAt: z.string().describe('ISO 8601'),
  closesAt: z.string().describe('ISO 8601; the server’s clock decides'),
  envelope: z.number(),
  committed: z.number(),
  url: z.string(),
});

const callJson = (c: service.Call, base: string) => ({
  slug: c.slug, kind: c.kind, title: c.title, summary: c.summary, eligibleTypes: c.eligibleTypes, region: c.region, departements: c.departements, stages: c.stages,
  opensAt: c.opensAt, closesAt: c.closesAt, envelope: c.envelope, committed: c.committed, url: `${base}/appels/${c.slug}`,
});

export function registerRoutes(app: App, ctx: AppContext) {
  const { db } = ctx;
  const theme = ctx.config.theme;

  app.get(
    '/api/v1/calls',
    {
      schema: {
        tags,
        summary: 'Published calls (open by default), with filters',
        querystring: z.object({
          state: z.enum(['open', 'upcoming', 'closed', 'all']).optional(),
          kind: z.enum(['aap', 'ami', 'label']).optional(),
          departement: z.string().regex(/^(\d{2}|2A|2B|97[1-8])$/).optional(),
          closingSoon: z.enum(['true', 'false']).optional().describe('closing within 15 days'),
        }),
        response: { 200: z.object({ items: z.array(CallSchema) }) },
      },
    },
    async (req) => {
      const q = req.query;
      const calls = await service.listPublicCalls(db, { state: q.state, kind: q.kind, departement: q.departement, closingSoon: q.closingSoon === 'true' });
      return { items: calls.map((c) => callJson(c, ctx.config.publicUrl)) };
    },
  );

  app.get(
    '/api/v1/calls/:call',
    {
      schema: {
        tags,
        summary: 'One published call with its current form (questions, criteria with weights, documents)',
        params: z.object({ call: z.string().max(120) }),
        response: { 200: CallSchema.extend({ rules: z.string(), formVersion: z.number().int(), ceilings: z.array(z.object({ departement: z.string(), amount: z.number(), committed: z.number() })).describe('ceilings per département inside the envelope'), form: z.object({ questions: z.array(z.record(z.string(), z.unknown())), criteria: z.array(z.record(z.string(), z.unknown())), documents: z.array(z.string()) }) }) },
      },
    },
    async (req) => {
      const c = await service.getCall(db, req.params.call);
      if (!c || c.status !== 'published') throw new NotFoundError('Cet appel n’existe pas.');
      const form = await service.getForm(db, c.id, c.formVersion);
      return { ...callJson(c, ctx.config.publicUrl), rules: c.rules, formVersion: c.formVersion, ceilings: await ceilingsOf(db, c.id), form: form as unknown as { questions: Record<string, unknown>[]; criteria: Record<string, unknown>[]; documents: string[] } };
    },
  );

  app.get(
    '/api/v1/calls/grants/scdl.csv',
    { schema: { tags, summary: 'Grants above 23,000 € in the SCDL « Subventions » schema v2.1.1 (CSV), each row validated against the schema' }, config: EXPORT_LIMIT },
    async (_req, reply) => reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="subventions-scdl.csv"').send((await grants.publishedScdl(db)).csv),
  );

  app.get(
    '/api/v1/calls/labels.csv',
    { schema: { tags, summary: 'Places of the directory holding a label today: label, place, validity dates (CSV)' } },
    async (_req, reply) => {
      const held = await labels.labelledPlaces(db, null);
      const places = new Map((await getPlacesByUids(db, held.map((h) => h.placeUid))).filter((p) => p.visible).map((p) => [p.uid, p]));
      const lines = ['label,id_lieu,nom_lieu,commune,date_debut,date_fin'];
      for (const h of held) {
        const p = places.get(h.placeUid);
        if (p) lines.push([h.programme, h.placeUid, p.nom, p.commune, h.validFrom, h.validUntil].map((v) => grants.csvCell(String(v ?? ''))).join(','));
      }
      return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="labels-lieux.csv"').send(lines.join('\r\n') + '\r\n');
    },
  );

  app.get(
    '/api/v1/calls/grants/scdl.json',
    {
      schema: {
        tags,
        summary: 'Every grant as an SCDL row, with its validation and whether it is published',
        response: { 200: z.object({ schema: z.string(), threshold: z.number(), items: z.array(z.object({ reference: z.string(), published: z.boolean(), problems: z.array(z.string()), row: z.record(z.string(), z.string()) })) }) },
      },
      config: EXPORT_LIMIT,
    },
    async () => {
      const items = (await grants.publishedScdl(db)).entries.map((e) => ({ reference: e.reference, published: e.published, problems: e.problems, row: e.row }));
      return { schema: 'scdl-subventions 2.1.1', threshold: grants.SCDL_THRESHOLD, items };
    },
  );

  // ---- public page of grants

  app.get('/appels/subventions', { config: EXPORT_LIMIT }, async (req, reply) => {
    const user = await currentUser(req);
    const all = (await grants.publishedScdl(db)).entries;
    const published = all.filter((r) => r.published).length;
    // One page of the list (the whole of it is the CSV file): a stranger never makes the server
    // render 100,000 rows.
    const pages = Math.max(1, Math.ceil(all.length / GRANTS_PER_PAGE));
    const rawPage = (req.query as Record<string, unknown>).page;
    const page = rawPage === undefined ? 1 : typeof rawPage === 'string' && /^[1-9][0-9]{0,6}$/.test(rawPage) ? Number(rawPage) : NaN;
    if (!Number.isInteger(page)) throw new UserError('Paramètre « page » : un numéro de page (1, 2, 3…).', 400, 'page');
    if (page > pages) throw new NotFoundError(`Cette liste n’a que ${plural(pages, 'page', 'pages')}.`);
    const rows = all.slice((page - 1) * GRANTS_PER_PAGE, page * GRANTS_PER_PAGE);
    const nav = pages > 1
      ? html`<nav aria-label="Pages de la liste"><p>Page ${page} sur ${pages}${page > 1 ? html` — <a href="/appels/subventions?page=${page - 1}" rel="prev">page précédente</a>` : ''}${page < pages ? html` — <a href="/appels/subventions?page=${page + 1}" rel="next">page suivante</a>` : ''}</p></nav>`
      : '';
    const body = html`<h1>Subventions accordées</h1>
<p>Les subventions des appels à projets, au schéma national SCDL « Subventions » (version 2.1.1). La loi rend publiques les subventions de plus de ${formatEuros(grants.SCDL_THRESHOLD)} ; chaque ligne est vérifiée contre le schéma avant d’être publiée.</p>
<p><a href="/api/v1/calls/grants/scdl.csv">Télécharger le fichier publié (CSV, ${plural(published, 'subvention', 'subventions')})</a></p>
${nav}<table class="data"><thead><tr><th scope="col">Référence</th><th scope="col">Bénéficiaire</th><th scope="col">Dispositif</th><th scope="col" class="n">Montant</th><th scope="col">Publiée</th></tr></thead><tbody>
${rows.map((r) => html`<tr><td>${r.reference}</td><td>${r.row.nomBeneficiaire}</td><td>${r.row.dispositifAide}</td><td class="n">${formatEuros(Number(r.row.montant))}</td><td>${r.published ? 'oui' : Number(r.row.montant) <= grants.SCDL_THRESHOLD ? html`non : ${formatEuros(grants.SCDL_THRESHOLD)} ou moins` : html`non : ${r.problems.join(' ; ')}`}</td></tr>`)}</tbody></table>`;
    return send(reply, 200, renderFrame(theme, { title: 'Subventions accordées', body, user, csrf: user ? csrfOf(reply) : undefined, index: true }));
  });

  // ---- staff grant pages

  const office = { preHandler: requirePermission('backoffice.access') };
  app.get('/gestion/appels/:id/subventions', office, async (req, reply) => {
    const user = await me(req);
    const call = await service.getCall(db, (req.params as { id: string }).id);
    if (!call || !can(user, 'calls.manage', service.callResource(call))) throw new NotFoundError('Cet appel n’existe pas.');
    const list = await grants.grantsOfCall(db, call.id);
    const body = html`<p><a href="/gestion/appels/${call.id}">${call.title}</a></p><h1>Subventions — ${call.title}</h1>
<p>Enveloppe ${formatEuros(call.envelope)} ; engagé ${formatEuros(call.committed)} ; versé ${formatEuros(call.paid)} ; reste à engager ${formatEuros(Math.round((call.envelope - call.committed) * 100) / 100)}.</p>
${list.length ? html`<table class="data"><thead><tr><th scope="col">Référence</th><th scope="col">Bénéficiaire</th><th scope="col" class="n">Montant</th><th scope="col" class="n">Versé</th><th scope="col">Statut</th></tr></thead><tbody>
${list.map((g) => html`<tr><td><a href="/gestion/subventions/${g.id}">${g.reference}</a></td><td>${g.organisation}</td><td class="n">${formatEuros(g.amount)}</td><td class="n">${formatEuros(g.paid)}</td><td>${g.status === 'closed' ? 'soldée' : 'en cours'}</td></tr>`)}</tbody></table>` : html`<p>Aucune subvention.</p>`}`;
    return send(reply, 200, renderFrame(theme, { title: `Subventions — ${call.title}`, body, user, csrf: csrfOf(reply) }));
  });

  const grantPage = async (req: FastifyRequest, reply: FastifyReply, status: number, error: string | null) => {
    const user = await me(req);
    const g = await grants.getGrant(db, (req.params as { gid: string }).gid);
    const call = g ? await service.getCall(db, g.callId) : null;
    if (!g || !call || !can(user, 'calls.manage', service.callResource(call))) throw new NotFoundError('Cette subvention n’existe pas.');
    const inst = await grants.instalmentsOf(db, g.id);
    const csrf = csrfOf(reply);
    const editable = g.status === 'active' && !inst.some((i) => i.paidOn);
    const lines = editable ? [...inst, ...Array.from({ length: Math.max(0, 3 - inst.length) }, () => null)] : [];
    const body = html`<p><a href="/gestion/appels/${call.id}/subventions">Subventions — ${call.title}</a></p><h1>Subvention ${g.reference}</h1>${errorBox(error)}
<p>${g.organisation} (SIRET ${g.siret}) — « ${g.title} ». Montant ${formatEuros(g.amount)}, versé ${formatEuros(g.paid)}. Convention du ${g.conventionOn ?? '—'}. ${g.status === 'closed' ? html`<strong>Soldée</strong>${g.closingNote ? html` : ${g.closingNote}` : ''}.` : ''}</p>
<h2>Échéancier</h2>
${inst.length ? html`<table class="data"><thead><tr><th scope="col">N°</th><th scope="col">Nature</th><th scope="col" class="n">Montant</th><th scope="col">Échéance</th><th scope="col">Condition</th><th scope="col">Versement</th></tr></thead><tbody>
${inst.map((i) => html`<tr><td>${i.seq}</td><td>${i.kind}</td><td class="n">${formatEuros(i.amount)}</td><td>${i.dueOn ?? '—'}</td><td>${i.condition}</td><td>${i.paidOn ? html`${formatEuros(i.paidAmount!)} le ${i.paidOn}` : g.status === 'active' ? html`<form method="post" action="/gestion/subventions/${g.id}/versements" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="seq" value="${i.seq}">
<label for="p-a-${i.seq}">Montant</label> <input type="text" inputmode="decimal" id="p-a-${i.seq}" name="amount" value="${i.amount}" size="10"> <label for="p-d-${i.seq}">le</label> <input type="date" id="p-d-${i.seq}" name="paidOn"> <label for="p-r-${i.seq}">mandat</label> <input type="text" id="p-r-${i.seq}" name="reference" size="10"> <button type="submit">Enregistrer le versement</button></form>` : '—'}</td></tr>`)}</tbody></table>` : html`<p>Pas encore d’échéancier.</p>`}
${editable ? html`<form method="post" action="/gestion/subventions/${g.id}/echeancier" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}"><fieldset><legend>Définir l’échéancier (la somme doit faire ${formatEuros(g.amount)})</legend>
<div class="field"><label for="f-conv">Date de la convention</label><input type="date" id="f-conv" name="conventionOn" value="${g.conventionOn ?? ''}"></div>
${lines.map((l, i) => html`<p><label for="s-k-${i}">Échéance ${i + 1}</label> <select id="s-k-${i}" name="kind.${i}"><option value="">—</option>${(['avance', 'acompte', 'solde'] as const).map((k) => html`<option${l?.kind === k ? raw(' selected') : ''}>${k}</option>`)}</select>
<label for="s-a-${i}">montant</label> <input type="text" inputmode="decimal" id="s-a-${i}" name="amount.${i}" value="${l?.amount ?? ''}" size="10"> <label for="s-d-${i}">date</label> <input type="date" id="s-d-${i}" name="dueOn.${i}" value="${l?.dueOn ?? ''}">
<label for="s-c-${i}">condition</label> <input type="text" id="s-c-${i}" name="condition.${i}" value="${l?.condition ?? ''}"></p>`)}
<button type="submit">Enregistrer l’échéancier</button></fieldset></form>` : ''}
${g.status === 'active' ? html`<form method="post" action="/gestion/subventions/${g.id}/cloture" class="calls-form"><input type="hidden" name="_csrf" value="${csrf}"><fieldset><legend>Solder la subvention</legend>
<p>Ce qui n’a pas été versé (${formatEuros(Math.round((g.amount - g.paid) * 100) / 100)}) sera une réduction, rendue à l’enveloppe de l’appel.</p>
<div class="field"><label for="f-cnote">Note de clôture (obligatoire en cas de réduction)</label><textarea id="f-cnote" name="note" rows="2"></textarea></div><button type="submit">Solder</button></fieldset></form>` : ''}`;
    return send(reply, status, renderFrame(theme, { title: `Subvention ${g.reference}`, body, user, csrf }));
  };
  app.get('/gestion/subventions/:gid', office, async (req, reply) => grantPage(req, reply, 200, null));
  const grantAction = (path: string, fn: (user: CurrentUser, gid: string, f: Record<string, unknown>) => Promise<unknown>) =>
    app.post(`/gestion/subventions/:gid${path}`, { ...office, preValidation: app.csrfProtection }, async (req, reply) => {
      const user = await me(req);
      const gid = (req.params as { gid: string }).gid;
      try {
        await fn(user, gid, formBody(req));
        return reply.redirect(`/gestion/subventions/${gid}`, 303);
      } catch (e) {
        if (e instanceof UserError && e.statusCode !== 404 && e.statusCode !== 403) return grantPage(req, reply, e.statusCode === 400 ? 422 : e.statusCode, e.message);
        throw e;
      }
    });
  grantAction('/echeancier', (user, gid, f) => {
    const lines: grants.ScheduleLine[] = [];
    for (let i = 0; i < 12; i++) {
      const kind = str(f[`kind.${i}`]);
      const amount = str(f[`amount.${i}`]);
      if (!kind && !amount) continue;
      lines.push({ kind, amount, dueOn: str(f[`dueOn.${i}`]) || undefined, condition: str(f[`condition.${i}`]) });
    }
    return grants.setSchedule(ctx, user, gid, lines, str(f.conventionOn) || undefined);
  });
  grantAction('/versements', (user, gid, f) => grants.recordPayment(ctx, user, gid, f));
  grantAction('/cloture', (user, gid, f) => grants.closeGrant(ctx, user, gid, str(f.note)));
}
