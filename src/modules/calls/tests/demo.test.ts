/**
 * The demo calls: drawn after the roadmap's demo (the Indre-et-Loire call draws on the roadmap's
 * envelope), applications in every state, grants with payments, pages served, the live indicator
 * computed, the SCDL file valid.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { silentProgress } from '../../../platform/progress.ts';
import { roadmapModule, liveIndicators, listEnvelopes } from '../../roadmap/index.ts';
import { callsModule } from '../index.ts';
import { publishedScdl, scdlEntries, SCDL_FIELDS } from '../grants.ts';

let t: Awaited<ReturnType<typeof testApp>>;

before(async () => {
  t = await testApp();
  await roadmapModule.seedDemo!({ ...t.ctx, progress: silentProgress });
  await callsModule.seedDemo!({ ...t.ctx, progress: silentProgress });
});
after(async () => t.close());

test('demo: five calls, dossiers in every state, idempotent', async () => {
  const calls = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM calls.call')).rows[0]!.n;
  assert.equal(calls, 5);
  const states = (await t.db.query<{ state: string }>('SELECT DISTINCT state FROM calls.application ORDER BY state')).rows.map((r) => r.state);
  assert.deepEqual(states, ['accepte', 'brouillon', 'en_construction', 'en_instruction', 'refuse', 'sans_suite']);
  const correction = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM calls.application WHERE correction_reason IS NOT NULL')).rows[0]!.n;
  assert.equal(correction, 1);
  const ws = (await t.db.query<{ envelope: number; committed: number }>(`SELECT envelope, committed FROM calls.call WHERE slug = 'amenager-et-equiper-des-espaces-de-travail-partage'`)).rows[0]!;
  assert.equal(Number(ws.envelope), 250_000);
  assert.equal(Number(ws.committed), 55_000 + 70_000 + 18_000);
  await callsModule.seedDemo!({ ...t.ctx, progress: silentProgress });
  assert.equal((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM calls.call')).rows[0]!.n, 5);
});

test('demo: the tiers-lieux label programme runs on the label campaign', async () => {
  const p = (await t.db.query<{ slug: string; kind: string }>('SELECT p.slug, c.kind FROM calls.label_programme p JOIN calls.call c ON c.id = p.call_id')).rows;
  assert.deepEqual(p, [{ slug: 'tiers-lieu-labellise-bourgogne-franche-comte', kind: 'label' }]);
  const page = await t.app.inject({ url: '/labels', headers: { accept: 'text/html' } });
  assert.match(page.body, /Tiers-lieu labellisé Bourgogne-Franche-Comté/);
  // this test seeds no directory places, so no place is labelled (with `npm start`'s demo, three are)
  assert.equal((await t.app.inject({ url: '/labels/tiers-lieu-labellise-bourgogne-franche-comte' })).statusCode, 200);
});

test('demo: the Indre-et-Loire call draws its envelope from the roadmap', async () => {
  const env = (await listEnvelopes(t.db, { territory: { level: 'departement', code: '37' } }))[0]!;
  assert.equal(env.drawn, 120_000);
});

test('demo: public pages, the SCDL file and the live indicator', async () => {
  const list = await t.app.inject({ url: '/appels', headers: { accept: 'text/html' } });
  assert.equal(list.statusCode, 200);
  assert.match(list.body, /AMI : structures d’accueil des médiateurs numériques/);
  assert.doesNotMatch(list.body, /espaces de travail partagé/); // closed
  const closed = await t.app.inject({ url: '/appels?etat=clos', headers: { accept: 'text/html' } });
  assert.match(closed.body, /espaces de travail partagé/);
  const page = await t.app.inject({ url: '/appels/amenager-et-equiper-des-espaces-de-travail-partage', headers: { accept: 'text/html' } });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /La Cantine numérique de Montreuil/);
  assert.match(page.body, /250\s000\s€/);
  const entries = [];
  for await (const b of scdlEntries(t.db)) entries.push(...b);
  assert.equal(entries.length, 6);
  for (const e of entries) assert.deepEqual(e.problems, [], e.reference);
  const csv = await t.app.inject({ url: '/api/v1/calls/grants/scdl.csv' });
  const lines = csv.body.trim().split('\r\n');
  assert.equal(lines[0], SCDL_FIELDS.map((f) => f.name).join(','));
  assert.equal(lines.length - 1, entries.filter((e) => Number(e.row.montant) > 23_000).length);
  assert.doesNotMatch(csv.body, /Nemours/); // 18,000 €: not published
  const subs = await t.app.inject({ url: '/appels/subventions', headers: { accept: 'text/html' } });
  assert.match(subs.body, /Nemours/);
  assert.match(subs.body, /23\s000\s€ ou moins/);
  const ind = liveIndicators().find((i) => i.id === 'calls.amount-granted')!;
  const values = await ind.compute({ db: t.db }, [{ level: 'region', code: '11' }, { level: 'departement', code: '93' }, { level: 'epci', code: '200000172' }]);
  assert.equal(values.get('region:11'), 143_000);
  assert.equal(values.get('departement:93'), 55_000);
  assert.equal(values.get('epci:200000172'), null);
});

test('the public SCDL export is computed once per version of the grants, and any change (from any instance) is seen at once', async () => {
  const first = await publishedScdl(t.db);
  // Concurrent anonymous requests share one computation; nothing changed, nothing recomputed.
  const [a, b] = await Promise.all([publishedScdl(t.db), publishedScdl(t.db)]);
  assert.equal(a, first);
  assert.equal(b, first);
  const responses = await Promise.all(Array.from({ length: 5 }, (_, i) => t.app.inject({ url: '/api/v1/calls/grants/scdl.csv', remoteAddress: `198.51.100.${40 + i}` })));
  for (const r of responses) assert.equal(r.body, first.csv);
  assert.equal(await publishedScdl(t.db), first);
  // A change written straight to the database (as another instance would): a new version, and
  // the next answer carries it.
  const { rows } = await t.db.query<{ id: string; name: string }>(
    `SELECT o.id, o.name FROM calls.organisation o JOIN calls.application a ON a.organisation_id = o.id JOIN calls.grant g ON g.application_id = a.id WHERE g.amount > 23000 LIMIT 1`,
  );
  const org = rows[0]!;
  await t.db.query('UPDATE calls.organisation SET name = $2 WHERE id = $1', [org.id, 'Association renommée pour le test']);
  try {
    const csv = await t.app.inject({ url: '/api/v1/calls/grants/scdl.csv', remoteAddress: '198.51.100.60' });
    assert.match(csv.body, /Association renommée pour le test/);
    assert.notEqual((await publishedScdl(t.db)).version, first.version);
  } finally {
    await t.db.query('UPDATE calls.organisation SET name = $2 WHERE id = $1', [org.id, org.name]);
  }
  // An applicant saving a draft (its title included) does not invalidate the export.
  const before = (await publishedScdl(t.db)).version;
  await t.db.query(`UPDATE calls.application SET title = title || ' (brouillon)' WHERE state = 'brouillon'`);
  assert.equal((await publishedScdl(t.db)).version, before);
});

test('the public list of grants is paged; a bad page number is a 400 naming the parameter', async () => {
  const one = await t.app.inject({ url: '/appels/subventions?page=1', headers: { accept: 'text/html' } });
  assert.equal(one.statusCode, 200);
  for (const bad of ['0', 'abc', '-1', '1e3', 'constructor', '99999999999']) {
    const r = await t.app.inject({ url: `/appels/subventions?page=${bad}`, headers: { accept: 'application/json' } });
    assert.equal(r.statusCode, 400, bad);
    assert.equal(r.json().field, 'page');
  }
  assert.equal((await t.app.inject({ url: '/appels/subventions?page=2', headers: { accept: 'text/html' } })).statusCode, 404);
});
