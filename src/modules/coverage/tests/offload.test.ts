/**
 * The planner and "what if" run in worker threads (issue #13): anonymous requests that each take
 * a second or more of computation no longer block the event loop; /health keeps answering.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { upsertPlaces } from '../../places/index.ts';
import { listCommunes } from '../../territories/index.ts';
import { computeWhatIf } from '../compute.ts';
import { allMeasures, ensureFresh } from '../service.ts';
import { placeRecord } from './support.ts';

describe('coverage computations off the main thread', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let open: { lat: number; lon: number }[];

  before(async () => {
    t = await testApp();
    const communes = (await listCommunes(t.db)).filter((c) => c.lat !== null && c.lon !== null);
    // One place every 40 communes across France, and 1,000 points to open (the what-if).
    const places = communes
      .filter((_, i) => i % 40 === 0)
      .map((c, i) => placeRecord({ id: `p-${i}`, nom: `Lieu ${i}`, code_insee: c.code, commune: c.name, code_postal: c.postalCodes[0] ?? '75001', latitude: c.lat!, longitude: c.lon! }));
    await upsertPlaces(t.db, places, { source: 'test' });
    await ensureFresh(t.db);
    open = communes.filter((_, i) => i % 30 === 17).slice(0, 1000).map((c) => ({ lat: c.lat!, lon: c.lon! }));
  });
  after(async () => t.close());

  test('a 1,000-point what-if on France: same answer as inline, and /health answers meanwhile', async (ctx) => {
    const whatIf = () => t.app.inject({ method: 'POST', url: '/api/v1/coverage/what-if', payload: { open } });
    assert.equal((await whatIf()).statusCode, 200); // warm-up: the worker starts and receives the data once
    const healthTimes: number[] = [];
    let pending = true;
    const started = performance.now();
    const request = whatIf().finally(() => {
      pending = false;
    });
    let answeredDuring = 0;
    while (pending) {
      const t0 = performance.now();
      const h = await t.app.inject({ url: '/health' });
      assert.equal(h.statusCode, 200);
      healthTimes.push(performance.now() - t0);
      if (pending) answeredDuring++;
      await new Promise((r) => setTimeout(r, 5));
    }
    const res = await request;
    const elapsed = performance.now() - started;
    assert.equal(res.statusCode, 200, res.body);
    const sorted = [...healthTimes].sort((a, b) => a - b);
    const worst = sorted[sorted.length - 1]!;
    const p90 = sorted[Math.floor(sorted.length * 0.9)]!;
    ctx.diagnostic(`what-if ${Math.round(elapsed)} ms; /health answered ${answeredDuring} times meanwhile, p90 ${p90.toFixed(1)} ms, worst ${worst.toFixed(1)} ms`);
    // Inline (the former behaviour) the loop is blocked for the whole computation: /health
    // answers only during the request's few database reads (twice in 1.5 s when measured).
    // The bound is on the 90th percentile: this machine is shared, a single answer may be late
    // for reasons that have nothing to do with the computation (benchmarks: docs/benchmarks.md).
    assert.ok(answeredDuring >= 20, `/health answered ${answeredDuring} times during a ${Math.round(elapsed)} ms what-if`);
    assert.ok(p90 < 100, `/health took up to ${Math.round(p90)} ms (90th percentile) during a ${Math.round(elapsed)} ms what-if`);
    // The worker computed what the inline code computes.
    const { state, measures } = await allMeasures(t.db);
    const { readSnapshot } = await import('../store.ts');
    const { SERVICE_LABELS } = await import('../model.ts');
    const expected = computeWhatIf(measures, await readSnapshot(t.db, SERVICE_LABELS), { territory: null, unattributedPlaces: state.unattributedPlaces, close: [], open, criterion: { kind: 'overall' } });
    const body = res.json();
    assert.equal(open.length, 1000);
    assert.equal(body.opened, 1000);
    assert.equal(body.after.population, expected.after.population);
    assert.deepEqual(
      body.changed.slice(0, 5).map((c: { code: string }) => c.code),
      expected.changed.slice(0, 5).map((c) => c.code),
    );
  });

  test('the planner answers through the worker with the same picks', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/coverage/plan', payload: { territory: '27', k: 3 } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().picks.length, 3);
    const { plan } = await import('../service.ts');
    // Inline, through the service without a pool (a fresh Db wrapper would have none; here the same result is expected).
    const direct = await plan(t.db, { territory: '27', radiusKm: 10, k: 3, criterion: { kind: 'overall' } });
    assert.deepEqual(res.json().picks.map((p: { code: string }) => p.code), direct.picks.map((p) => p.code));
  });
});
