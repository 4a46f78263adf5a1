/**
 * The roadmap through its users' paths: public pages (barometer, action with SVG chart and table,
 * summary, history as of a date), drafts hidden from visitors, the JSON API and exports, the back
 * office forms (create, edit, reorder, budgets, values, CSV import with mapping) with refusals
 * checked by reading rows, the authorisation matrix, and the CLI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { silentProgress } from '../../../platform/progress.ts';
import type { CliContext } from '../../../platform/module.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { roadmapCommands } from '../cli.ts';
import { postMultipart } from '../../../../test/support/multipart.ts';
import * as service from '../service.ts';
import { saveBudget } from '../money.ts';
import type { Plan } from '../model.ts';

const { createCast, runAuthorisationMatrix, formatMatrix, uncoveredRoutes } = accountsTesting;

let t: Awaited<ReturnType<typeof testApp>>;
let cast: Awaited<ReturnType<typeof createCast>>;
let plan: Plan;
let draft: Plan;
let other: Plan;
let actionId = '';

/** Every row of the module's tables (and the audit trail's length), to compare before and after a refusal. */
async function snapshot(): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const table of ['plan', 'node', 'change', 'budget', 'budget_year', 'cofinancing', 'indicator', 'indicator_link', 'indicator_value', 'series_summary']) {
    out[table] = (await t.db.query(`SELECT * FROM roadmap.${table} ORDER BY 1, 2`)).rows;
  }
  out.audit = (await t.db.query('SELECT count(*)::int AS n FROM platform.audit_entry')).rows;
  return JSON.stringify(out);
}

async function count(table: string, where = 'true', params: unknown[] = []): Promise<number> {
  return (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM roadmap.${table} WHERE ${where}`, params)).rows[0]!.n;
}

before(async () => {
  t = await testApp();
  cast = await createCast(t.app, { region: '28', departement: '27', place: 'aucun' });
  plan = await service.createPlan(t.db, null, { territory: { level: 'region', code: '28' }, title: 'Feuille de route normande', periodStart: '2020-01-01', periodEnd: '2025-12-31', published: true, vote: { date: '2020-02-14' }, authority: { name: 'Région Normandie', siret: '73282932000074' } });
  draft = await service.createPlan(t.db, null, { territory: { level: 'region', code: '28' }, title: 'Brouillon secret', periodStart: '2024-01-01', periodEnd: '2026-12-31' });
  other = await service.createPlan(t.db, null, { territory: { level: 'region', code: '84' }, title: 'Plan d’une autre région', periodStart: '2020-01-01', periodEnd: '2025-12-31', published: true });
  const axe = await service.addNode(t.db, null, plan.id, { kind: 'axe', number: 'Axe 1', title: 'Former les habitants' });
  const action = await service.addNode(t.db, null, plan.id, { kind: 'action', number: 'Action 3', title: 'Parcours de formation <script>', parentId: axe.id, status: 'en_cours', links: 'software:outil-inconnu' });
  actionId = action.id;
  await service.defineIndicator(t.db, null, { id: 'parcours', title: 'Parcours de formation suivis', unit: 'parcours', min: 0 });
  await service.linkIndicator(t.db, null, action.id, 'parcours');
  const series = Array.from({ length: 36 }, (_, i) => ({ indicatorId: 'parcours', territory: plan.territory, kind: 'result', date: `${2020 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}-01`, value: 100 * i }));
  await service.recordValues(t.db, null, [...series, { indicatorId: 'parcours', territory: plan.territory, kind: 'target', date: '2025-12-31', value: 15000 }]);
  await saveBudget(t.db, null, action.id, { label: 'AP formation', ap: 2_000_000, years: [{ year: 2021, cp: 500_000, votedBp: 500_000, committed: 400_000, paid: 300_000 }], accountCode: '6574', accountLabel: 'Subventions aux associations', chapterCode: '65', chapterLabel: 'Autres charges de gestion courante', nature: 'fonctionnement' });
});
after(async () => t.close());

describe('public pages', () => {
  test('the list shows published plans only; a draft is 404 for visitors, readable by the région’s reviewer', async () => {
    const anon = await cast.browser('anonymous');
    const list = await anon.get('/feuilles-de-route');
    assert.equal(list.status, 200);
    assert.match(list.body, /Feuille de route normande/);
    assert.doesNotMatch(list.body, /Brouillon secret/);
    assert.equal((await anon.get(`/feuilles-de-route/${draft.slug}`)).status, 404);
    assert.equal((await t.app.inject({ url: `/api/v1/roadmap/plans/${draft.slug}` })).statusCode, 404);
    const reviewer = await cast.browser('reviewer');
    assert.equal((await reviewer.get(`/feuilles-de-route/${draft.slug}`)).status, 200);
    assert.equal((await (await cast.browser('manager')).get(`/feuilles-de-route/${draft.slug}`)).status, 404);
  });

  test('barometer: tree with status, progress and money; escaped text; exports listed', async () => {
    const res = await t.app.inject({ url: `/feuilles-de-route/${plan.slug}` });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /Action 3/);
    assert.match(res.body, /Parcours de formation &lt;script&gt;/);
    assert.doesNotMatch(res.body, /<script>/);
    assert.match(res.body, /En cours/);
    assert.match(res.body, /2\s000\s000\s€/); // AP rolled up, French formatting
    assert.match(res.body, /export\/budget-scdl\.csv/);
    // progress: (3500 − 0) / (15000 − 0) = 23 %
    assert.match(res.body, /23 %/);
  });

  test('action page: SVG chart with title and description, the same data as a table, money, unresolved link, history', async () => {
    const res = await t.app.inject({ url: `/feuilles-de-route/${plan.slug}/actions/${actionId}` });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /<svg class="chart"[^>]*role="img"[^>]*aria-labelledby="chart-0-title chart-0-desc"/);
    assert.match(res.body, /<desc id="chart-0-desc">37 valeurs/);
    assert.match(res.body, /<caption>Valeurs de l’indicateur « Parcours de formation suivis »<\/caption>/);
    assert.equal((res.body.match(/<tr><td>\d\d\/\d\d\/\d{4}<\/td>/g) ?? []).length, 37);
    assert.match(res.body, /outil-inconnu <em>\(introuvable\)<\/em>/);
    assert.match(res.body, /ajouté/);
    assert.equal((await t.app.inject({ url: `/feuilles-de-route/${plan.slug}/actions/00000000-0000-0000-0000-000000000000` })).statusCode, 404);
    assert.equal((await t.app.inject({ url: `/feuilles-de-route/${plan.slug}/actions/${encodeURIComponent('__proto__')}` })).statusCode, 404);
  });

  test('summary to print and history as of a date', async () => {
    const s = await t.app.inject({ url: `/feuilles-de-route/${plan.slug}/synthese` });
    assert.equal(s.statusCode, 200);
    assert.match(s.body, /@media print/);
    assert.match(s.body, /Avancement global : 23 %/);
    const h = await t.app.inject({ url: `/feuilles-de-route/${plan.slug}/historique?date=2019-01-01` });
    assert.equal(h.statusCode, 200);
    assert.match(h.body, /n’existait pas encore/);
    const now = await t.app.inject({ url: `/feuilles-de-route/${plan.slug}/historique?date=${new Date().toISOString().slice(0, 10)}` });
    assert.match(now.body, /Action 3/);
    assert.equal((await t.app.inject({ url: `/feuilles-de-route/${plan.slug}/historique?date=2020-02-31`, headers: { accept: 'text/html' } })).statusCode, 400);
  });
});

describe('JSON API and exports', () => {
  test('plans, barometer, action, values, versions; listed in the OpenAPI document', async () => {
    const list = (await t.app.inject({ url: '/api/v1/roadmap/plans?territory=region:28' })).json();
    assert.deepEqual(list.items.map((p: Plan) => p.slug), [plan.slug]);
    const bad = await t.app.inject({ url: '/api/v1/roadmap/plans?territory=region:99' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().field, 'territory.code');
    const b = (await t.app.inject({ url: `/api/v1/roadmap/plans/${plan.slug}` })).json();
    assert.equal(b.nodes.length, 2);
    assert.equal(b.nodes[1].money.ap, 2_000_000);
    assert.equal(Math.round(b.progress * 1000), 233);
    const a = (await t.app.inject({ url: `/api/v1/roadmap/plans/${plan.slug}/actions/${actionId}` })).json();
    assert.equal(a.indicators[0].values.length, 37);
    assert.match(a.indicators[0].explanation, /3\s500/);
    const v = (await t.app.inject({ url: '/api/v1/roadmap/indicators/parcours/values?territory=region:28' })).json();
    assert.equal(v.values.length, 37);
    const versions = (await t.app.inject({ url: `/api/v1/roadmap/plans/${plan.slug}/versions?at=2020-02-14&limit=2` })).json();
    assert.equal(versions.changes.length, 2);
    assert.ok(versions.nextCursor);
    const doc = (await t.app.inject({ url: '/api/openapi.json' })).json();
    for (const p of ['/api/v1/roadmap/plans', '/api/v1/roadmap/plans/{plan}', '/api/v1/roadmap/plans/{plan}/actions/{node}', '/api/v1/roadmap/indicators']) assert.ok(doc.paths[p], p);
  });

  test('CSV and JSON exports, SCDL « Budget » lines', async () => {
    const csv = await t.app.inject({ url: `/api/v1/roadmap/plans/${plan.slug}/export/actions.csv` });
    assert.equal(csv.statusCode, 200);
    assert.match(csv.headers['content-type'] as string, /text\/csv/);
    const lines = csv.body.trim().split('\r\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^plan,id,parent_id/);
    const scdl = (await t.app.inject({ url: `/api/v1/roadmap/plans/${plan.slug}/export/budget-scdl.json` })).json();
    assert.deepEqual(scdl.map((r: Record<string, unknown>) => r.BGT_NATDEC), ['budget primitif', 'compte administratif']);
    assert.equal(scdl[0].BGT_SIRET, '73282932000074');
    assert.equal(scdl[0].BGT_SECTION, 'fonctionnement');
    assert.equal(scdl[1].BGT_MTREAL, 300_000);
    assert.equal((await t.app.inject({ url: `/api/v1/roadmap/plans/${other.slug}/export/budget-scdl.csv` })).statusCode, 409); // no SIRET
    assert.equal((await t.app.inject({ url: `/api/v1/roadmap/plans/${plan.slug}/export/constructor.csv` })).statusCode, 404);
  });

  test('API writes need the permission and the CSRF token; a refused write changes no row', async () => {
    const staff = await cast.browser('staff_region');
    const before = await count('node');
    const noCsrf = await t.app.inject({ method: 'POST', url: `/api/v1/roadmap/plans/${plan.slug}/nodes`, payload: { title: 'x' }, headers: { cookie: [...staff.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    assert.equal(noCsrf.statusCode, 403);
    const headers = { cookie: [...staff.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'x-csrf-token': staff.csrf!, 'content-type': 'application/json' };
    const cycle = await t.app.inject({ method: 'PATCH', url: `/api/v1/roadmap/plans/${plan.slug}/nodes/${(await service.getTree(t.db, plan.id))[0]!.id}`, payload: JSON.stringify({ parentId: actionId }), headers });
    assert.equal(cycle.statusCode, 400);
    assert.equal(cycle.json().field, 'parentId');
    const outside = await t.app.inject({ method: 'POST', url: `/api/v1/roadmap/plans/${other.slug}/nodes`, payload: JSON.stringify({ title: 'x' }), headers });
    assert.equal(outside.statusCode, 403);
    const values = await t.app.inject({ method: 'POST', url: `/api/v1/roadmap/plans/${plan.slug}/values`, payload: JSON.stringify({ values: [{ indicatorId: 'parcours', date: '2024-01-01', value: 5 }, { indicatorId: 'parcours', date: '2024-02-01', value: -1 }] }), headers });
    assert.equal(values.statusCode, 400);
    assert.equal(values.json().field, 'values[1].value');
    assert.equal(await count('node'), before);
    assert.equal(await count('indicator_value', "on_date >= '2024-01-01' AND kind = 'result'"), 0);
    const ok = await t.app.inject({ method: 'POST', url: `/api/v1/roadmap/plans/${plan.slug}/nodes`, payload: JSON.stringify({ title: 'Nouvelle action', parentId: actionId, kind: 'sous_action' }), headers });
    assert.equal(ok.statusCode, 201);
    assert.equal(await count('node'), before + 1);
  });
});

describe('back office', () => {
  test('staff create a plan by the form; bad input re-shows the form with the message, nothing saved', async () => {
    const staff = await cast.browser('staff_region');
    await staff.get('/gestion/feuilles-de-route');
    const plans = await count('plan');
    const bad = await staff.post('/gestion/feuilles-de-route', { territory_level: 'region', territory_code: '28', title: 'Plan 2027', periodStart: '2027-01-01', periodEnd: '2026-01-01' });
    assert.equal(bad.status, 400);
    assert.match(bad.body, /La fin de la période précède son début/);
    const badSiret = await staff.post('/gestion/feuilles-de-route', { territory_level: 'region', territory_code: '28', title: 'Plan 2027', periodStart: '2027-01-01', periodEnd: '2028-01-01', authority_siret: '12345678901234' });
    assert.equal(badSiret.status, 400);
    assert.match(badSiret.body, /SIRET/);
    const foreign = await staff.post('/gestion/feuilles-de-route', { territory_level: 'region', territory_code: '84', title: 'Plan ailleurs', periodStart: '2027-01-01', periodEnd: '2028-01-01' });
    assert.equal(foreign.status, 403);
    assert.equal(await count('plan'), plans);
    const ok = await staff.post('/gestion/feuilles-de-route', { territory_level: 'departement', territory_code: '27', title: 'Plan de l’Eure', periodStart: '2027-01-01', periodEnd: '2028-12-31', vote_date: '2026-12-15', documents: 'Délibération | https://example.org/d.pdf' });
    assert.equal(ok.status, 303);
    assert.equal(await count('plan'), plans + 1);
    const created = (await service.getPlan(t.db, '27-plan-de-l-eure'))!;
    assert.equal(created.region, '28');
    assert.deepEqual(created.documents, [{ title: 'Délibération', url: 'https://example.org/d.pdf' }]);
  });

  test('elements: add, reorder with buttons, edit; a cycle or a date outside the period is refused with rows unchanged', async () => {
    const staff = await cast.browser('staff_departement');
    const p = (await service.getPlan(t.db, '27-plan-de-l-eure'))!;
    const base = `/gestion/feuilles-de-route/${p.slug}`;
    await staff.get(base);
    for (const n of ['A', 'B']) assert.equal((await staff.post(`${base}/elements`, { kind: 'axe', number: n, title: `Axe ${n}` })).status, 303);
    let tree = await service.getTree(t.db, p.id);
    const [a, b] = tree;
    assert.equal((await staff.post(`${base}/elements`, { parentId: a!.id, number: 'A.1', title: 'Sous A' })).status, 303);
    const moved = await staff.post(`${base}/elements/${b!.id}/deplacer`, { direction: 'up' });
    assert.equal(moved.status, 303);
    tree = await service.getTree(t.db, p.id);
    assert.deepEqual(tree.map((n) => n.number), ['B', 'A', 'A.1']);
    const sub = tree.find((n) => n.number === 'A.1')!;
    const changes = await count('change', 'plan_id = $1', [p.id]);
    await staff.get(`${base}/elements/${a!.id}`);
    const cycle = await staff.post(`${base}/elements/${a!.id}`, { parentId: sub.id, title: 'Axe A' });
    assert.equal(cycle.status, 400);
    assert.match(cycle.body, /cycle/);
    const dates = await staff.post(`${base}/elements/${a!.id}`, { title: 'Axe A', startDate: '2026-01-01' });
    assert.equal(dates.status, 400);
    assert.match(dates.body, /en dehors de la période/);
    assert.equal(await count('change', 'plan_id = $1', [p.id]), changes);
    assert.equal((await service.getNode(t.db, a!.id))!.parentId, null);
    // A node of another plan through this plan's URL: 404, nothing changed.
    assert.equal((await staff.post(`${base}/elements/${actionId}`, { title: 'détourné' })).status, 404);
    assert.equal((await service.getNode(t.db, actionId))!.title, 'Parcours de formation <script>');
  });

  test('budget form: CP above AP refused (rows unchanged), then saved', async () => {
    const staff = await cast.browser('staff_region');
    const p = (await service.getPlan(t.db, '27-plan-de-l-eure'))!;
    const node = (await service.getTree(t.db, p.id))[0]!;
    const url = `/gestion/feuilles-de-route/${p.slug}/elements/${node.id}`;
    await staff.get(url);
    const bad = await staff.post(`${url}/budget`, { label: 'AP', ap: '1000', y2027_cp: '800', y2028_cp: '300' });
    assert.equal(bad.status, 400);
    assert.match(bad.body, /dépasse l’autorisation de programme/);
    assert.equal(await count('budget', 'node_id = $1', [node.id]), 0);
    const ok = await staff.post(`${url}/budget`, { label: 'AP', ap: '1 000,50', y2027_cp: '800', y2027_votedBp: '800', y2028_cp: '200', cofinancing: 'etat ; État ; 300' });
    assert.equal(ok.status, 303);
    assert.equal(await count('budget_year', 'budget_id IN (SELECT id FROM roadmap.budget WHERE node_id = $1)', [node.id]), 2);
  });

  test('CSV import: a file upload, then the column mapping; a bad line names its line and column, nothing saved; then the whole file', async () => {
    const staff = await cast.browser('staff_region');
    const p = (await service.getPlan(t.db, '27-plan-de-l-eure'))!;
    const url = `/gestion/feuilles-de-route/${p.slug}/import`;
    const form = await staff.get(url);
    assert.match(form.body, /<form method="post" action="[^"]+\/import" enctype="multipart\/form-data">/);
    assert.match(form.body, /<input type="file" id="imp-file" name="file" accept=".csv,text\/csv" required/);
    assert.doesNotMatch(form.body, /<textarea/);
    const csv = 'Numéro;Intitulé;Parent;Statut;Fin\nC;Axe C;;à venir;\nC.1;Action C1;C;en cours;31/12/2028\nC.2;Action C2;C;en cours;31/12/2030\n';
    const upload = (content: Buffer | string, fields: Record<string, string> = { step: 'map', kind: 'plan' }, o: { csrf?: boolean } = {}) =>
      postMultipart(t.app, staff, url, fields, [{ field: 'file', fileName: 'plan.csv', content }], o);
    const before = await snapshot();
    const mapping = await upload(csv);
    assert.equal(mapping.status, 200);
    assert.match(mapping.body, /Fichier « plan\.csv » : 3 lignes lues/);
    assert.match(mapping.body, /<option value="1" selected>B — Intitulé<\/option>/); // guessed
    const fields = { step: 'import', kind: 'plan', fileName: 'plan.csv', csv, map_number: '0', map_title: '1', map_parent: '2', map_status: '3', map_endDate: '4' };
    const bad = await staff.post(url, fields);
    assert.equal(bad.status, 400);
    assert.match(bad.body, /Ligne 4, colonne E « Fin » : La date de fin \(2030-12-31\) est en dehors de la période/);
    assert.equal(await snapshot(), before, 'a refused import changed rows');
    const badParent = await staff.post(url, { ...fields, csv: csv.replace('C.1;Action C1;C;', 'C.1;Action C1;Z;') });
    assert.match(badParent.body, /Ligne 3, colonne C « Parent » : le parent « Z » n’est ni dans le plan ni plus haut dans le fichier/);
    // Refused uploads: no file, an empty file, too large, not UTF-8, an unclosed quote, NUL bytes, no CSRF token.
    const noFile = await postMultipart(t.app, staff, url, { step: 'map', kind: 'plan' }, []);
    assert.equal(noFile.status, 400);
    assert.match(noFile.body, /Choisissez le fichier CSV à importer/);
    assert.equal((await upload('')).status, 400);
    const big = await upload(Buffer.alloc(5 * 1024 * 1024 + 10, 'a'));
    assert.equal(big.status, 413);
    assert.match(big.body, /Le fichier dépasse 5 Mo/);
    const huge = await upload(Buffer.alloc(16 * 1024 * 1024, 'a'));
    assert.equal(huge.status, 413);
    const latin1 = await upload(Buffer.concat([Buffer.from('Numéro;Intitulé\nC;Axe C\n'), Buffer.from('D;Pr\xe9vention\n', 'latin1')]));
    assert.equal(latin1.status, 400);
    assert.match(latin1.body, /n’est pas en UTF-8 valide \(ligne 3\)/);
    const quote = await upload('Numéro;Intitulé\nC;Axe C\nD;"Axe D" suite\n');
    assert.equal(quote.status, 400);
    assert.match(quote.body, /Fichier CSV illisible \(ligne 3, colonne B\) : un guillemet fermant est suivi d’autre chose qu’un séparateur/);
    assert.equal((await upload('Numéro;Intitulé\nC;Axe\u0000C\n')).status, 400);
    const forged = await upload(csv, { step: 'map', kind: 'plan' }, { csrf: false });
    assert.equal(forged.status, 403);
    const forgedImport = await postMultipart(t.app, staff, url, { ...fields, csv: csv.replace('31/12/2030', '30/06/2028') }, [], { csrf: false });
    assert.equal(forgedImport.status, 403);
    assert.equal(await snapshot(), before, 'refused uploads changed rows');
    // The whole file, once fixed.
    const fixed = csv.replace('31/12/2030', '30/06/2028');
    assert.equal((await upload(fixed)).status, 200);
    assert.equal((await staff.post(url, { ...fields, csv: fixed })).status, 303);
    const tree = await service.getTree(t.db, p.id);
    const c1 = tree.find((n) => n.number === 'C.1')!;
    assert.equal(c1.parentId, tree.find((n) => n.number === 'C')!.id);
    assert.equal(c1.status, 'en_cours');
    assert.equal(c1.endDate, '2028-12-31');
  });

  test('CSV import of values: a value out of bounds names its line and column, nothing saved', async () => {
    const staff = await cast.browser('staff_region');
    const p = (await service.getPlan(t.db, '27-plan-de-l-eure'))!;
    const url = `/gestion/feuilles-de-route/${p.slug}/import`;
    await staff.get(url);
    const ind = await service.defineIndicator(t.db, null, { id: 'tests.import-share', title: 'Part importée', unit: '%', direction: 'up', min: 0, max: 100 });
    const csv = 'indicateur,date,valeur\ntests.import-share,2027-01-01,12\ntests.import-share,2027-06-01,140\n';
    const mapping = await postMultipart(t.app, staff, url, { step: 'map', kind: 'values' }, [{ field: 'file', fileName: 'valeurs.csv', content: csv }]);
    assert.equal(mapping.status, 200);
    const before = await snapshot();
    const bad = await staff.post(url, { step: 'import', kind: 'values', fileName: 'valeurs.csv', csv, map_indicatorId: '0', map_date: '1', map_value: '2' });
    assert.equal(bad.status, 400);
    assert.match(bad.body, /Ligne 3, colonne C « valeur » : /);
    assert.equal(await snapshot(), before);
    assert.equal((await staff.post(url, { step: 'import', kind: 'values', fileName: 'valeurs.csv', csv: csv.replace(',140', ',40'), map_indicatorId: '0', map_date: '1', map_value: '2' })).status, 303);
    assert.equal(await count('indicator_value', 'indicator_id = $1', [ind.id]), 2);
  });

  test('the authorisation matrix of every back-office route', async () => {
    const p = (await service.getPlan(t.db, '27-plan-de-l-eure'))!;
    const node = (await service.getTree(t.db, p.id))[0]!;
    const far = (await service.getTree(t.db, other.id))[0] ?? (await service.addNode(t.db, null, other.id, { title: 'Ailleurs' }));
    const regionOnly = ['admin', 'staff_region'] as const;
    const inDep = ['admin', 'staff_region', 'staff_departement'] as const;
    const base = `/gestion/feuilles-de-route/${p.slug}`;
    const farBase = `/gestion/feuilles-de-route/${other.slug}`;
    const routes: accountsTesting.MatrixRoute[] = [
      { method: 'GET', route: '/gestion/feuilles-de-route', inScope: '/gestion/feuilles-de-route', allowed: ['admin', 'staff_region', 'staff_departement', 'manager', 'reviewer', 'mediator', 'helper'] },
      { method: 'POST', route: '/gestion/feuilles-de-route', inScope: '/gestion/feuilles-de-route', form: { territory_level: 'region', territory_code: '28', title: '' }, allowed: regionOnly },
      { method: 'GET', route: '/gestion/feuilles-de-route/:plan', inScope: base, outOfScope: farBase, allowed: inDep },
      { method: 'POST', route: '/gestion/feuilles-de-route/:plan', inScope: base, outOfScope: farBase, form: { title: '' }, allowed: inDep },
      { method: 'POST', route: '/gestion/feuilles-de-route/:plan/elements', inScope: base + '/elements', outOfScope: farBase + '/elements', form: { title: '' }, allowed: inDep },
      { method: 'GET', route: '/gestion/feuilles-de-route/:plan/elements/:node', inScope: `${base}/elements/${node.id}`, outOfScope: `${farBase}/elements/${far.id}`, allowed: inDep },
      { method: 'POST', route: '/gestion/feuilles-de-route/:plan/elements/:node', inScope: `${base}/elements/${node.id}`, outOfScope: `${farBase}/elements/${far.id}`, form: { title: '' }, allowed: inDep },
      { method: 'POST', route: '/gestion/feuilles-de-route/:plan/elements/:node/deplacer', inScope: `${base}/elements/${node.id}/deplacer`, outOfScope: `${farBase}/elements/${far.id}/deplacer`, form: { direction: 'sideways' }, allowed: inDep },
      { method: 'POST', route: '/gestion/feuilles-de-route/:plan/elements/:node/supprimer', inScope: async () => `${base}/elements/${(await service.addNode(t.db, null, p.id, { title: 'À supprimer' })).id}/supprimer`, outOfScope: async () => `${farBase}/elements/${(await service.addNode(t.db, null, other.id, { title: 'À supprimer ailleurs' })).id}/supprimer`, allowed: inDep },
      { method: 'POST', route: '/gestion/feuilles-de-route/:plan/elements/:node/indicateurs', inScope: `${base}/elements/${node.id}/indicateurs`, outOfScope: `${farBase}/elements/${far.id}/indicateurs`, form: { id: '' }, allowed: inDep },
      { method: 'POST', route: '/gestion/feuilles-de-route/:plan/elements/:node/budget', inScope: `${base}/elements/${node.id}/budget`, outOfScope: `${farBase}/elements/${far.id}/budget`, form: { ap: 'x' }, allowed: inDep },
      { method: 'GET', route: '/gestion/feuilles-de-route/:plan/valeurs', inScope: `${base}/valeurs`, outOfScope: `${farBase}/valeurs`, allowed: inDep },
      { method: 'POST', route: '/gestion/feuilles-de-route/:plan/valeurs', inScope: `${base}/valeurs`, outOfScope: `${farBase}/valeurs`, form: { indicatorId: 'nope', value: '1', date: '2027-01-01' }, allowed: inDep },
      { method: 'GET', route: '/gestion/feuilles-de-route/:plan/import', inScope: `${base}/import`, outOfScope: `${farBase}/import`, allowed: inDep },
      { method: 'POST', route: '/gestion/feuilles-de-route/:plan/import', inScope: `${base}/import`, outOfScope: `${farBase}/import`, form: { step: 'map', csv: 'a' }, allowed: inDep },
    ];
    const { cells, failures } = await runAuthorisationMatrix(cast, routes);
    assert.deepEqual(failures, [], formatMatrix(cells));
    assert.deepEqual(uncoveredRoutes(t.app, routes, ['/gestion/feuilles-de-route']), []);
  });
});

describe('command line', () => {
  test('maillage roadmap recompute / plans / export', async () => {
    const lines: string[] = [];
    const cli: CliContext = { ...t.ctx, progress: silentProgress, out: (l) => lines.push(l) };
    assert.equal(await roadmapCommands.roadmap!.run(['recompute', '--indicator', 'places.per-10000'], cli), 0);
    assert.match(lines.at(-1)!, /Recomputed 1 live indicator\(s\) for \d+ territorie\(s\)/);
    const s = await service.getSeries(t.db, 'places.per-10000', { level: 'region', code: '28' });
    assert.equal(s.length, 1);
    assert.equal(s[0]!.source, 'calcul');
    assert.equal(await roadmapCommands.roadmap!.run(['recompute', '--indicator', 'nope'], cli), 2);
    assert.equal(await roadmapCommands.roadmap!.run(['plans'], cli), 0);
    assert.ok(lines.some((l) => l.startsWith(`${plan.slug}\tregion:28`)));
  });
});
