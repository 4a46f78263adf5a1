/**
 * Statistics pages: server-rendered SVG charts, each followed by its table (the same figures for
 * screen readers and printing). For a mediator, a team, a place, a territory (staff), and public
 * aggregates per territory with small counts hidden (shareable link).
 */
import type { FastifyRequest } from 'fastify';
import type { App } from '../../../platform/http/server.ts';
import type { AppContext } from '../../../platform/module.ts';
import { html, raw, type Raw } from '../../../platform/html/html.ts';
import { layout } from '../../../platform/html/layout.ts';
import { NotFoundError, UserError } from '../../../platform/http/errors.ts';
import { requirePermission, type Resource } from '../../accounts/index.ts';
import { getPlacesByUids } from '../../places/index.ts';
import { resolveTerritory } from '../../territories/index.ts';
import { SMALL_COUNT } from '../model.ts';
import * as service from '../service.ts';
import { UNIT_LABELS, completionRate, parsePeriod, parsePublicYear, publicStatistics, statistics, type Breakdown, type Stats, type StatsScope } from '../stats.ts';
import { publicRegionOf } from '../disclosure.ts';
import { csrfOf, me, renderFrame, send } from './ui.ts';
import { XLSX_TYPE, statsCsv, statsWorkbook } from '../xlsx.ts';
import type { FastifyReply } from 'fastify';

/** `?format=xlsx|csv` downloads the page's figures; true when it answered. */
async function download(reply: FastifyReply, q: Record<string, unknown>, title: string, s: Stats, name: string): Promise<boolean> {
  if (q.format === undefined || q.format === '') return false;
  const file = `${name.replace(/[^a-z0-9-]+/gi, '-').slice(0, 80)}-${s.from}-${s.to}`;
  if (q.format === 'xlsx') {
    await reply.type(XLSX_TYPE).header('content-disposition', `attachment; filename="${file}.xlsx"`).send(await statsWorkbook(title, s));
    return true;
  }
  if (q.format === 'csv') {
    await reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${file}.csv"`).send(statsCsv(s));
    return true;
  }
  throw new UserError('Format de téléchargement : xlsx ou csv.', 400, 'format');
}

/** Links to the page's figures as XLSX and CSV (same query, plus format). */
function downloads(path: string, q: Record<string, unknown>): Raw {
  const params = new URLSearchParams();
  for (const k of ['vue', 'id', 'annee', 'du', 'au']) if (typeof q[k] === 'string' && q[k]) params.set(k, q[k] as string);
  const link = (f: string) => { const p = new URLSearchParams(params); p.set('format', f); return `${path}?${p.toString()}`; };
  return html`<p class="no-print">Télécharger ces chiffres : <a href="${link('xlsx')}" download>tableur XLSX</a> · <a href="${link('csv')}" download>CSV</a></p>`;
}

/** A hidden figure reads the same whether it is small or hides a small one (« non diffusé »). */
const fmt = (n: number | null) => (n === null ? 'non diffusé' : n.toLocaleString('fr-FR'));

/** A horizontal bar chart (SVG) of labelled values; hidden values drawn as empty bars. */
export function barChart(id: string, title: string, rows: { label: string; value: number | null }[]): Raw {
  const max = Math.max(1, ...rows.map((r) => r.value ?? 0));
  const rowH = 22;
  const labelW = 230;
  const barW = 300;
  const h = rows.length * rowH + 4;
  return html`<figure class="chart"><svg viewBox="0 0 ${labelW + barW + 90} ${h}" width="${labelW + barW + 90}" height="${h}" role="img" aria-labelledby="${id}-t" focusable="false">
<title id="${id}-t">${title}</title>
${rows.map((r, i) => {
    const w = r.value === null ? 0 : Math.round((r.value / max) * barW);
    const y = i * rowH + 2;
    return html`<text x="${labelW - 6}" y="${y + 15}" text-anchor="end" font-size="12" fill="#222">${r.label.length > 36 ? `${r.label.slice(0, 35)}…` : r.label}</text>
<rect x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 6}" style="fill:var(--color-primary,#1f5f8b)"></rect>
<text x="${labelW + w + 6}" y="${y + 15}" font-size="12" fill="#222">${fmt(r.value)}</text>`;
  })}</svg></figure>`;
}

/** A column chart (SVG) per month. */
export function monthChart(id: string, title: string, months: { month: string; value: number | null }[]): Raw {
  const max = Math.max(1, ...months.map((m) => m.value ?? 0));
  const colW = Math.max(14, Math.min(40, Math.floor(640 / Math.max(1, months.length))));
  const h = 180;
  const w = months.length * colW + 20;
  return html`<figure class="chart"><svg viewBox="0 0 ${w} ${h + 30}" width="${w}" height="${h + 30}" role="img" aria-labelledby="${id}-t" focusable="false">
<title id="${id}-t">${title}</title>
${months.map((m, i) => {
    const bh = m.value === null ? 0 : Math.round((m.value / max) * (h - 10));
    return html`<rect x="${10 + i * colW + 2}" y="${h - bh}" width="${colW - 4}" height="${bh}" style="fill:var(--color-primary,#1f5f8b)"><title>${m.month} : ${fmt(m.value)}</title></rect>
<text x="${10 + i * colW + colW / 2}" y="${h + 14}" text-anchor="middle" font-size="10" fill="#222">${m.month.slice(5)}</text>`;
  })}</svg></figure>`;
}

function table(caption: string, head: string, rows: { label: string; value: number | null }[]): Raw {
  return html`<table class="data"><caption>${caption}</caption><thead><tr><th scope="col">${head}</th><th scope="col" class="n">Nombre</th></tr></thead><tbody>
${rows.map((r) => html`<tr><th scope="row">${r.label}</th><td class="n">${fmt(r.value)}</td></tr>`)}</tbody></table>`;
}

function breakdownSection(b: Breakdown): Raw {
  if (!b.rows.length) return html``;
  const unit = UNIT_LABELS[b.unit];
  return html`<section><h3>${b.title}</h3>${barChart(`c-${b.metric}`, `${b.title} (${unit})`, b.rows)}${table(`${b.title} (${unit})`, b.title, b.rows)}</section>`;
}

export function renderStats(s: Stats, periodForm: Raw): Raw {
  const t = s.totals;
  return html`<p>Du ${s.from} au ${s.to}. ${s.hidden ? html`Pour protéger les personnes, aucun nombre inférieur à ${SMALL_COUNT} n’est publié, ni aucun nombre qui permettrait de le retrouver par soustraction à partir des totaux : ces nombres sont marqués « non diffusé ». Les chiffres publics sont donnés par région et par département, pour une année civile.` : ''}
Un accompagnement est une personne accompagnée lors d’une activité : une personne venue deux fois compte deux fois.</p>
${periodForm}
<ul class="figures">
<li><strong>${fmt(t.activities)}</strong> activités</li><li><strong>${fmt(t.individual)}</strong> accompagnements individuels</li>
<li><strong>${fmt(t.collective)}</strong> ateliers collectifs</li><li><strong>${fmt(t.accompaniments)}</strong> accompagnements</li>
<li><strong>${fmt(t.followed)}</strong> accompagnements de personnes suivies</li><li><strong>${fmt(t.hours)}</strong> heures</li></ul>
<section><h2>Par mois</h2>${monthChart('c-months', 'Accompagnements par mois', s.months.map((m) => ({ month: m.month, value: m.accompaniments })))}
<table class="data"><caption>Activités et accompagnements par mois</caption><thead><tr><th scope="col">Mois</th><th scope="col" class="n">Activités</th><th scope="col" class="n">Accompagnements</th></tr></thead><tbody>
${s.months.map((m) => html`<tr><th scope="row">${m.month}</th><td class="n">${fmt(m.activities)}</td><td class="n">${fmt(m.accompaniments)}</td></tr>`)}</tbody></table></section>
${completionRate(s) === null ? '' : html`<p><strong>${completionRate(s)} %</strong> des personnes inscrites avec une place ont terminé leur parcours (taux d’achèvement : parcours terminés / inscriptions avec une place, sur la période).</p>`}
<h2>Répartitions</h2>${s.breakdowns.map(breakdownSection)}
<p class="no-print">Pour imprimer ces statistiques, utilisez l’impression de votre navigateur : menus et formulaires sont masqués.</p>`;
}

function periodForm(action: string, q: Record<string, unknown>, hidden: Record<string, string> = {}): Raw {
  const v = (k: string) => (typeof q[k] === 'string' ? (q[k] as string) : '');
  return html`<form method="get" action="${action}" class="med-form no-print">${Object.entries(hidden).map(([k, val]) => html`<input type="hidden" name="${k}" value="${val}">`)}
<label for="p-annee">Année</label><input type="text" id="p-annee" name="annee" inputmode="numeric" maxlength="4" value="${v('annee')}">
<span class="hint">ou une période :</span><label for="p-du">Du (AAAA-MM)</label><input type="text" id="p-du" name="du" maxlength="7" value="${v('du')}">
<label for="p-au">Au (AAAA-MM)</label><input type="text" id="p-au" name="au" maxlength="7" value="${v('au')}"><button type="submit">Afficher</button></form>`;
}

function yearForm(action: string, year: string): Raw {
  return html`<form method="get" action="${action}" class="med-form no-print"><label for="p-annee">Année</label><input type="text" id="p-annee" name="annee" inputmode="numeric" maxlength="4" value="${year}"><button type="submit">Afficher</button></form>`;
}

async function territoryOf(ctx: AppContext, level: string, code: string) {
  if (!['region', 'departement', 'commune'].includes(level)) return null;
  return resolveTerritory(ctx.db, `${level}:${code}`);
}

export function registerStatsPages(app: App, ctx: AppContext) {
  app.get('/mediation/statistiques', { preHandler: requirePermission('mediation.record') }, async (req, reply) => {
    const user = await me(req);
    const q = req.query as Record<string, unknown>;
    const period = parsePeriod(q);
    const vue = typeof q.vue === 'string' ? q.vue : 'moi';
    const id = typeof q.id === 'string' ? q.id : '';
    let scope: StatsScope = 'mediator';
    let ids = [user.id];
    let title = 'Mes statistiques';
    const profile = await service.profileOf(ctx, user.id);
    const coordinated = await service.coordinatedTeams(ctx, user.id);
    if (vue === 'equipe') {
      const teamId = id || profile.teamId || coordinated[0]?.id || '';
      const team = (await service.listTeams(ctx)).find((t) => t.id === teamId);
      if (!team || !(team.id === profile.teamId || team.coordinatorId === user.id)) throw new NotFoundError('Équipe introuvable.');
      scope = 'team';
      ids = [team.id];
      title = `Statistiques de l’équipe ${team.name}`;
    } else if (vue === 'lieu') {
      if (!profile.placeUids.includes(id)) throw new NotFoundError('Lieu introuvable.');
      const p = (await getPlacesByUids(ctx.db, [id]))[0];
      scope = 'place';
      ids = [id];
      title = `Statistiques du lieu ${p?.nom ?? ''}`;
    } else if (vue !== 'moi') throw new UserError('Vue inconnue : moi, equipe ou lieu.', 400, 'vue');
    const s = await statistics(ctx.db, scope, ids, period);
    if (await download(reply, q, title, s, scope === 'mediator' ? 'mes-statistiques' : `statistiques-${scope}`)) return reply;
    const places = await getPlacesByUids(ctx.db, profile.placeUids);
    const views = html`<p class="no-print">Voir : <a href="/mediation/statistiques">mes activités</a>${profile.teamId ? html` · <a href="/mediation/statistiques?vue=equipe&amp;id=${profile.teamId}">mon équipe</a>` : ''}
${coordinated.filter((t) => t.id !== profile.teamId).map((t) => html` · <a href="/mediation/statistiques?vue=equipe&amp;id=${t.id}">${t.name}</a>`)}
${places.map((p) => html` · <a href="/mediation/statistiques?vue=lieu&amp;id=${p.uid}">${p.nom}</a>`)}</p>`;
    const body = html`<h1>${title}</h1>${views}${downloads('/mediation/statistiques', q)}${renderStats(s, periodForm('/mediation/statistiques', q, vue === 'moi' ? {} : { vue, id: ids[0]! }))}`;
    return send(reply, 200, renderFrame(ctx.config.theme, { title, user, csrf: csrfOf(reply), body }));
  });

  const territoryResource = async (req: FastifyRequest): Promise<Resource | null> => {
    const { level, code } = req.params as { level: string; code: string };
    const t = await territoryOf(ctx, level, code);
    if (!t) return null;
    const region = t.level === 'region' ? t.code : (t.parents.find((p) => p.level === 'region')?.code ?? null);
    const departement = t.level === 'departement' ? t.code : (t.parents.find((p) => p.level === 'departement')?.code ?? null);
    return { type: 'territory', region, departement, commune: t.level === 'commune' ? t.code : null };
  };

  app.get('/mediation/statistiques/territoire/:level/:code', { preHandler: requirePermission('mediation.stats.territory', territoryResource) }, async (req, reply) => {
    const user = await me(req);
    const { level, code } = req.params as { level: string; code: string };
    const t = (await territoryOf(ctx, level, code))!;
    const q = req.query as Record<string, unknown>;
    const s = await statistics(ctx.db, t.level as StatsScope, [t.code], parsePeriod(q));
    const title = `Médiation numérique : ${t.name}`;
    if (await download(reply, q, title, s, `mediation-${t.level}-${t.code}`)) return reply;
    const body = html`<h1>${title}</h1>${t.level === 'commune' ? '' : html`<p class="no-print"><a href="/statistiques/mediation/${t.level}/${t.code}">Version publique (lien partageable)</a></p>`}${downloads(`/mediation/statistiques/territoire/${t.level}/${t.code}`, q)}${renderStats(s, periodForm(`/mediation/statistiques/territoire/${t.level}/${t.code}`, q))}`;
    return send(reply, 200, renderFrame(ctx.config.theme, { title, user, csrf: csrfOf(reply), body }));
  });

  // Public aggregates, shareable: small counts and the counts that would reveal them are hidden.
  app.get('/statistiques/mediation/:level/:code', async (req, reply) => {
    const { level, code } = req.params as { level: string; code: string };
    const t = await publicRegionOf(ctx.db, level, code);
    if (!t) throw new NotFoundError('Territoire inconnu : les chiffres publics sont publiés par région et par département.');
    const q = req.query as Record<string, unknown>;
    const year = parsePublicYear(q);
    const s = await publicStatistics(ctx.db, t.region, t.level, t.code, year);
    const title = `Médiation numérique : ${t.name}`;
    if (await download(reply, q, title, s, `mediation-${t.level}-${t.code}`)) return reply;
    const body = html`<h1>${title}</h1>${downloads(`/statistiques/mediation/${t.level}/${t.code}`, { annee: year })}${renderStats(s, yearForm(`/statistiques/mediation/${t.level}/${t.code}`, year))}
<p>Données ouvertes : <a href="/api/v1/mediation/open-data.csv">CSV</a>, <a href="/api/v1/mediation/open-data.xlsx">XLSX</a>, <a href="/api/v1/mediation/open-data.json">JSON</a>.</p>`;
    return reply.type('text/html; charset=utf-8').header('cache-control', 'public, max-age=300').send(layout({ title, theme: ctx.config.theme, body, head: raw('<style>table.data{border-collapse:collapse;width:100%}table.data th,table.data td{border-bottom:1px solid #ccc;padding:.3rem;text-align:left}.n{text-align:right}.figures{display:flex;flex-wrap:wrap;gap:.75rem;list-style:none;padding:0}.figures li{border:1px solid #bbb;padding:.6rem .9rem}.figures strong{display:block;font-size:1.5em}.chart svg{max-width:100%;height:auto}@media print{nav,footer,.no-print{display:none!important}}</style>') }));
  });
}
