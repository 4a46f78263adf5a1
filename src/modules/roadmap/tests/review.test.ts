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
