/**
 * An outsider's attack on the roadmap: refused writes leave every roadmap row unchanged, hostile
 * input (prototype names, NUL bytes, invalid UTF-8, huge numbers) gets a 4xx, and the envelope
 * ceiling holds under 50 concurrent draws.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import * as service from '../service.ts';
import { drawEnvelope, getEnvelope, saveEnvelope, envelopeDraws } from '../money.ts';
import { recomputeLive, registerIndicator } from '../live.ts';
import type { Plan } from '../model.ts';

const { createCast } = accountsTesting;

let t: Awaited<ReturnType<typeof testApp>>;
let cast: Awaited<ReturnType<typeof createCast>>;
let plan: Plan;
let actionId = '';

/** Every roadmap table's row count and a digest of its contents. */
async function roadmapState(): Promise<string> {
  const { rows } = await t.db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'roadmap' ORDER BY table_name`);
  const out: string[] = [];
  for (const r of rows) {
    const d = await t.db.query<{ n: number; h: string | null }>(`SELECT count(*)::int AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS h FROM roadmap.${r.table_name} x`);
    out.push(`${r.table_name}:${d.rows[0]!.n}:${d.rows[0]!.h ?? ''}`);
  }
  return out.join('\n');
}

async function staffHeaders() {
  const staff = await cast.browser('staff_region');
  await staff.get('/gestion/feuilles-de-route');
  return { cookie: [...staff.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'x-csrf-token': staff.csrf!, 'content-type': 'application/json' };
}

before(async () => {
  t = await testApp();
  cast = await createCast(t.app, { region: '28', departement: '27', place: 'aucun' });
  plan = await service.createPlan(t.db, null, { territory: { level: 'region', code: '28' }, title: 'Plan attaqué', periodStart: '2020-01-01', periodEnd: '2030-12-31', published: true });
  const action = await service.addNode(t.db, null, plan.id, { kind: 'action', number: 'Action 1', title: 'Une action' });
  actionId = action.id;
  await service.defineIndicator(t.db, null, { id: 'rv-saisi', title: 'Saisi', unit: 'u', min: 0, max: 1000 });
  registerIndicator({
    id: 'rv.live',
    title: 'Calculé (revue)',
    unit: 'u',
    method: 'Constante.',
    async compute(_ctx, territories) {
      return new Map(territories.map((x) => [`${x.level}:${x.code}`, 7]));
    },
  });
  await recomputeLive(t.db, { ids: ['rv.live'], date: '2024-01-01' });
});
after(async () => t.close());

describe('live indicators cannot be forged', () => {
  test('a typed result claiming the source « calcul » is refused through the API, rows unchanged', async () => {
    const headers = await staffHeaders();
    const before = await roadmapState();
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/roadmap/plans/${plan.slug}/values`,
      headers,
      payload: JSON.stringify({ values: [{ indicatorId: 'rv.live', kind: 'result', date: '2024-02-01', value: 999, source: 'calcul' }] }),
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(await roadmapState(), before);
    const series = await service.getSeries(t.db, 'rv.live', plan.territory);
    assert.deepEqual(series.map((v) => v.value), [7]);
  });
});

const HOSTILE = ['constructor', '__proto__', 'toString', 'x\u0000y', '%00', '%C3%28', '%FF%FE', '9'.repeat(400), '1e309', '-1', 'a'.repeat(5000), "'; DROP TABLE roadmap.plan; --", '2024-02-30', '../../etc/passwd'];

describe('hostile input gets a 4xx, never a 5xx', () => {
  test('public pages and the read API', async () => {
    const urls: string[] = [];
    for (const h of HOSTILE) {
      const v = h.startsWith('%') ? h : encodeURIComponent(h);
      urls.push(
        `/feuilles-de-route/${v}`, `/feuilles-de-route/${plan.slug}/actions/${v}`, `/feuilles-de-route/${plan.slug}/historique?date=${v}`, `/feuilles-de-route?territoire=${v}&${v}=1`,
        `/api/v1/roadmap/plans?territory=${v}`, `/api/v1/roadmap/plans/${v}`, `/api/v1/roadmap/plans/${plan.slug}/versions?at=${v}&before=${v}`, `/api/v1/roadmap/plans/${plan.slug}/export/${v}`,
        `/api/v1/roadmap/indicators/${v}/values?territory=${v}`, `/api/v1/roadmap/indicators/rv-saisi/values?territory=region:${v}`, `/api/v1/roadmap/plans/${plan.slug}/actions/${v}`,
      );
    }
    const fails: string[] = [];
    for (const url of urls) {
      const res = await t.app.inject({ url });
      if (res.statusCode >= 500) fails.push(`${res.statusCode} ${url.slice(0, 150)}`);
    }
    assert.deepEqual(fails, []);
  });

  test('API writes with hostile bodies change no row', async () => {
    const headers = await staffHeaders();
    const bodies: unknown[] = [];
    for (const h of HOSTILE) {
      bodies.push({ [h]: h }, { title: h, kind: h, status: h, parentId: h, weight: h, startDate: h, links: h }, { title: 'x', weight: Number(h) || 1e308, tags: [h, { [h]: 1 }] });
    }
    bodies.push({ __proto__: { title: 'x' } }, JSON.parse('{"__proto__": {"polluted": 1}, "title": "p"}'), { title: 'x', parentId: actionId, number: 'x'.repeat(100_000) }, [], 'chaîne', null);
    const fails: string[] = [];
    // A PATCH may legitimately change a field to a strange but valid text: only no 5xx there.
    for (const b of bodies) {
      for (const url of [`/api/v1/roadmap/plans/${plan.slug}`, `/api/v1/roadmap/plans/${plan.slug}/nodes/${actionId}`]) {
        const res = await t.app.inject({ method: 'PATCH', url, headers, payload: JSON.stringify(b) });
        if (res.statusCode >= 500) fails.push(`${res.statusCode} PATCH ${url} ${JSON.stringify(b).slice(0, 80)}`);
      }
    }
    const before = await roadmapState();
    for (const b of bodies) {
      for (const [method, url] of [
        ['POST', `/api/v1/roadmap/plans/${plan.slug}/nodes/${actionId}/budgets`],
        ['POST', `/api/v1/roadmap/plans/${plan.slug}/values`],
        ['POST', '/api/v1/roadmap/plans'],
      ] as const) {
        const res = await t.app.inject({ method, url, headers, payload: JSON.stringify(b) });
        if (res.statusCode >= 500 || res.statusCode < 400) fails.push(`${res.statusCode} ${method} ${url} ${JSON.stringify(b).slice(0, 80)}`);
      }
    }
    const valueBodies = HOSTILE.flatMap((h) => [
      { values: [{ indicatorId: h, date: '2024-01-01', value: 1 }] },
      { values: [{ indicatorId: 'rv-saisi', date: h, value: 1 }] },
      { values: [{ indicatorId: 'rv-saisi', date: '2024-01-01', value: h, kind: h, note: h, source: h }] },
      { values: [{ indicatorId: 'rv-saisi', date: '2024-01-01', value: 1e308 }] },
    ]);
    for (const b of valueBodies) {
      const res = await t.app.inject({ method: 'POST', url: `/api/v1/roadmap/plans/${plan.slug}/values`, headers, payload: JSON.stringify(b) });
      if (res.statusCode >= 500 || res.statusCode < 400) fails.push(`${res.statusCode} values ${JSON.stringify(b).slice(0, 100)}`);
    }
    const budgets = [
      { ap: '1e20' }, { ap: 99999999999999.999 }, { ap: 10, years: [{ year: 2021, cp: 5, votedDm: '0x10' }] }, { ap: 10, years: [{ year: 2021, cp: 5, votedDm: [] }] },
      { ap: 10, years: [{ year: 2021, cp: 5, votedDm: '1e200' }] }, { ap: 10, years: [{ year: 2021 }, { year: 2021 }] }, { ap: 10, cofinancing: [{ funder: 'constructor', amount: 1 }, { funder: 'constructor', amount: 2 }] },
      { ap: 10, years: 'constructor' }, { ap: 10, years: [null, 1, 'x'] }, { ap: 10, cofinancing: { length: 3 } },
    ];
    for (const b of budgets) {
      const res = await t.app.inject({ method: 'POST', url: `/api/v1/roadmap/plans/${plan.slug}/nodes/${actionId}/budgets`, headers, payload: JSON.stringify(b) });
      if (res.statusCode >= 500 || res.statusCode < 400) fails.push(`${res.statusCode} budget ${JSON.stringify(b).slice(0, 100)} ${res.body.slice(0, 120)}`);
    }
    assert.deepEqual(fails, []);
    assert.equal(await roadmapState(), before);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('back-office forms and the CSV import: malformed files, prototype names, NUL bytes', async () => {
    const staff = await cast.browser('staff_region');
    const base = `/gestion/feuilles-de-route/${plan.slug}`;
    await staff.get(`${base}/import`);
    const before = await roadmapState();
    const fails: string[] = [];
    const csvs = [
      'numero;titre;parent\n"A 1;"non fermé\n',
      'numero;titre;statut;type;priorite\nA9;Titre;constructor;__proto__;toString\n',
      'numero;titre\nA9;ti\u0000tre\n',
      'numero;titre\nA9;\ufffd\n',
      `numero;titre\n${'A;B\n'.repeat(20_001)}`,
      'numero;titre;parent\nA9;Titre;A9\n',
      'numero;titre;parent\nA9;Titre;\nA9;Doublon;\n',
      `${Array.from({ length: 150 }, (_, i) => `c${i}`).join(';')}\n1\n`,
      'indicateur;date;valeur;type\nrv-saisi;2024-01-01;1;constructor\n',
      'indicateur;date;valeur\nrv-saisi;31/02/2024;1\nrv-saisi;2024-01-01;99999999999999999999\n',
      'indicateur;date;valeur\nrv.live;2024-01-01;5\n',
    ];
    for (const csv of csvs) {
      for (const kind of ['plan', 'values', 'constructor']) {
        for (const extra of <Record<string, string>[]>[{}, { map_number: '0', map_title: '1', map_indicatorId: '0', map_date: '1', map_value: '2', map_kind: '3', map_status: '2', map_parent: '2' }, { map_title: '__proto__', map_number: '-1' }, { map_title: '1e3' }]) {
          const res = await staff.post(`${base}/import`, { kind, csv, step: 'import', ...extra });
          if (res.status >= 500) fails.push(`${res.status} import ${kind} ${JSON.stringify(extra)} ${JSON.stringify(csv.slice(0, 40))}`);
          await staff.get(`${base}/import`);
        }
      }
    }
    for (const [url, form] of [
      [base, { title: 'x\u0000', periodStart: '2020-01-01', periodEnd: '2030-12-31', constructor: 'x', __proto__: 'y' }],
      [base, { title: 'ok', periodStart: '9999-99-99', periodEnd: '2030-12-31' }],
      [`${base}/elements`, { title: 'x', parentId: '__proto__', kind: 'constructor' }],
      [`${base}/elements`, { title: 'x', weight: '1e400' }],
      [`${base}/elements/${actionId}`, { title: 'x', startDate: '2020-13-01' }],
      [`${base}/elements/${actionId}/deplacer`, { direction: 'constructor' }],
      [`${base}/elements/${actionId}/indicateurs`, { indicatorId: '__proto__', weight: 'x' }],
      [`${base}/elements/${actionId}/budget`, { ap: '1e400', label: '\u0000' }],
      [`${base}/valeurs`, { indicatorId: 'rv-saisi', kind: 'toString', date: '2024-01-01', value: 'NaN' }],
      [`${base}/valeurs`, { indicatorId: 'rv.live', kind: 'result', date: '2024-01-01', value: '1' }],
    ] as [string, Record<string, string>][]) {
      await staff.get(base);
      const res = await staff.post(url, form);
      if (res.status >= 500 || res.status < 400) fails.push(`${res.status} ${url} ${JSON.stringify(form).slice(0, 80)}`);
    }
    assert.deepEqual(fails, []);
    assert.equal(await roadmapState(), before);
  });
});

describe('envelope ceiling under 50 concurrent draws', () => {
  test('exactly as many draws as fit; drawn = sum of draws; refused draws leave no row', async () => {
    const env = await saveEnvelope(t.db, null, plan.id, { territory: { level: 'departement', code: '27' }, label: 'Enveloppe de revue', ceiling: 1000 });
    const settled = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => drawEnvelope(t.db, { envelopeId: env.id, amount: 30, reference: `grant:${i % 45}` })));
    const ok = settled.filter((s) => s.status === 'fulfilled').length;
    assert.equal(ok, 33); // 33 × 30 = 990 ≤ 1000 < 34 × 30
    for (const s of settled) if (s.status === 'rejected') assert.ok((s.reason as { statusCode?: number }).statusCode === 409, String(s.reason));
    const after = (await getEnvelope(t.db, env.id))!;
    const draws = await envelopeDraws(t.db, env.id);
    assert.equal(draws.length, 33);
    assert.equal(after.drawn, draws.reduce((s, d) => s + d.amount, 0));
    assert.ok(after.drawn <= after.ceiling);
    // Lowering the ceiling under what is drawn is refused, rows unchanged.
    const before = await roadmapState();
    await assert.rejects(saveEnvelope(t.db, null, plan.id, { territory: { level: 'departement', code: '27' }, label: 'Enveloppe de revue', ceiling: 500 }), /plafond/);
    assert.equal(await roadmapState(), before);
  });
});
