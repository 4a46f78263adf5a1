/**
 * Code search never stalls the site: searches run in the pool's worker threads with a time budget.
 * Four hostile searches at once through the HTTP app, while /health and a places search must each
 * answer within 100 ms; a saturated pool refuses at once (503, 429 with Retry-After); a search stuck
 * in one enormous line has its worker replaced, and the next search is answered.
 */
// A small queue for this file's pool (created on first search): 2 workers × 2 waiting.
process.env.COMMONS_SEARCH_WORKERS = '2';
process.env.COMMONS_SEARCH_QUEUE = '2';
process.env.COMMONS_SEARCH_PER_CLIENT = '2';

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { testApp } from '../../../../test/support/app.ts';
import { addRepository, indexRepository } from '../service.ts';
import { closeSearchPool, SearchPool, searchPool } from '../engine/pool.ts';
import { parseQuery } from '../engine/query.ts';
import { poolSnapshot } from '../service.ts';
import { makeRepo, tmpDir } from './helpers.ts';

let t: Awaited<ReturnType<typeof testApp>>;
let dataDir = '';

before(async () => {
  dataDir = tmpDir('commons-avail-');
  t = await testApp({ dataDir });
  // 2 MB of lines no hostile pattern matches (in four files: a file over 1 MiB is not indexed), and
  // one line of 900 000 characters.
  const line = 'bcdefghijk'.repeat(10);
  const dir = makeRepo({
    ...Object.fromEntries([1, 2, 3, 4].map((n) => [`big/${n}.txt`, Array.from({ length: 5_000 }, (_, i) => `${line} ${i}`).join('\n') + '\n'])),
    'long/line.txt': 'b'.repeat(900_000) + '\n',
    'src/ok.c': 'int needle_marker = 1;\n',
  });
  await addRepository(t.ctx, dir, { slug: 'grand' });
  await indexRepository(t.ctx, 'grand', { worker: false });
});

after(async () => {
  await closeSearchPool();
  await t.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** CPU time of the main thread (ms, user + system, from /proc; -1 elsewhere). */
function mainThreadCpuMs(): number {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return -1;
  }
}

// inject() is lazy (it sends the request when awaited): a promise sends it now.
const get = (url: string, from = '127.0.0.1') => Promise.resolve(t.app.inject({ method: 'GET', url, remoteAddress: from }));

test('four hostile searches at once: /health and a places search keep answering within 100 ms', async () => {
  // Warm up (workers started, snapshot loaded) so that the timings below measure the site alone.
  searchPool().warm((await poolSnapshot(t.ctx)).ref);
  await Promise.all([1, 2].map((i) => get('/api/v1/commons/search?q=needle_marker', `10.9.0.${i}`)));
  assert.equal((await get('/api/v1/commons/search?q=needle_marker')).statusCode, 200);
  await get('/health');
  await get('/api/v1/places?q=mairie');
  const hostile = ['/(.*a){20}/', '/(.?){90}x/', '/(.*){1,100}z/', '/(\\w+\\s?)+$Q/'];
  /** Probes /health and a places search until `until()`; their times in ms. */
  const probe = async (until: () => boolean, tag: string) => {
    const times: { url: string; ms: number }[] = [];
    for (let i = 0; !until(); i++) {
      for (const url of ['/health', `/api/v1/places?q=${tag}${i}`]) {
        const t0 = performance.now();
        const r = await get(url, '10.1.0.1');
        times.push({ url, ms: performance.now() - t0 });
        assert.equal(r.statusCode, 200, url);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return times;
  };
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  // The machine's own noise first (it is shared: other processes compete for its cores).
  const t1 = Date.now();
  const baseline = (await probe(() => Date.now() - t1 > 1500, 'base')).map((x) => x.ms);
  const started = Date.now();
  const cpu0 = mainThreadCpuMs();
  const searches = hostile.map((q, i) => get(`/api/v1/commons/search?q=${encodeURIComponent(q)}&budget=1500`, `10.0.0.${i + 1}`));
  let done = false;
  void Promise.allSettled(searches).then(() => (done = true));
  const during = await probe(() => done || Date.now() - started > 20_000, 'mairie');
  const answers = await Promise.all(searches);
  const ms = during.map((x) => x.ms);
  const cpu = mainThreadCpuMs() - cpu0;
  // Probes answer within 100 ms — on a machine whose own noise is larger (it is shared with other
  // work: the baseline measured just before is reported), half within twice its median and nine in
  // ten within three times its 95th percentile (the two search workers now take cores the probes had
  // during the baseline: on a two-core machine running another test file, that is the scheduler's
  // share, not a blocked event loop); none near a search's 1.5 s, and the main thread's own CPU stays
  // small (a search holding the event loop would cost seconds of both).
  const report = `baseline p50 ${q(baseline, 0.5).toFixed(0)} p95 ${q(baseline, 0.95).toFixed(0)} ms; during p50 ${q(ms, 0.5).toFixed(0)} p90 ${q(ms, 0.9).toFixed(0)} max ${Math.max(...ms).toFixed(0)} ms over ${ms.length} probes; main thread CPU ${cpu} ms`;
  console.log(report);
  assert.ok(ms.length >= 10, `probes ran while the searches did (${ms.length})`);
  assert.ok(q(ms, 0.5) <= Math.max(100, 2 * q(baseline, 0.5)), report);
  assert.ok(q(ms, 0.9) <= Math.max(100, 3 * q(baseline, 0.95)), report);
  assert.ok(Math.max(...ms) < 1000, report);
  // The main thread's own CPU time (Linux): what the probes cost, not the searches' seconds.
  if (cpu >= 0) assert.ok(cpu < 40 * ms.length + 500, report);
  for (const [i, r] of answers.entries()) {
    assert.equal(r.statusCode, 200, `${hostile[i]}: ${r.body.slice(0, 300)}`);
    const body = r.json();
    if (body.timedOut) {
      assert.equal(body.truncated, true);
      assert.ok(body.nextCursor, 'a partial answer can be continued');
      assert.match(body.notice, /budget de temps/);
    }
  }
  // Two ran, two waited: all within twice the budget and the slack of a loaded machine (the search
  // workers run at a lower priority: on two cores shared with another test file they get what is
  // left; 12 s was seen beside two suites at load 10). A search ignoring its budget would take minutes.
  assert.ok(Date.now() - started < 30_000, `${Date.now() - started} ms`);
});

test('hostile patterns are refused before they run: a 400 naming q', async () => {
  for (const q of ['/(.?){1000}x/', '/(.*){1,1000}/', '/a{1000}/', '/(abcdefgh{20}){40}/']) {
    const r = await get(`/api/v1/commons/search?q=${encodeURIComponent(q)}`);
    assert.equal(r.statusCode, 400, q);
    assert.equal(r.json().field, 'q');
    const page = await get(`/communs/recherche?q=${encodeURIComponent(q)}`);
    assert.equal(page.statusCode, 400);
    assert.match(page.body, /role="alert"/);
  }
  const r = await get('/api/v1/commons/search?q=x&budget=999999');
  assert.equal(r.statusCode, 400);
  assert.equal(r.json().field, 'budget');
});

test('a saturated pool refuses at once: 503 beyond the queue, 429 beyond one client’s share, with Retry-After', async () => {
  // A search that really works for its whole budget (every line of the big/ files is tried against a
  // 90-state pattern), so that the pool's state can be awaited before the next request is sent:
  // the refusals below do not depend on how fast a loaded machine delivers the requests.
  const q = `/api/v1/commons/search?q=${encodeURIComponent('/(.?){90}[0-9]{6}/ file:big/')}&budget=3000`;
  const pool = searchPool();
  const until = async (what: string, ok: () => boolean) => {
    for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 5))) {
      assert.ok(Date.now() - t0 < 10_000, `waited 10 s for ${what}: ${JSON.stringify(pool.stats())}`);
    }
  };
  // One client: two at a time.
  const mine = [get(q, '10.2.0.1'), get(q, '10.2.0.1')];
    await until('two running', () => pool.stats().running === 2);
  const third = await get(q, '10.2.0.1');
  assert.equal(third.statusCode, 429);
  assert.equal(third.json().error, 'search_busy');
  assert.ok(third.headers['retry-after']);
  for (const r of await Promise.all(mine)) assert.equal(r.statusCode, 200);
  await until('an idle pool', () => pool.stats().running === 0 && pool.stats().queued === 0);
  // Many clients: 2 running + 2 waiting, the others refused.
  const admitted = Array.from({ length: 4 }, (_, i) => get(q, `10.3.0.${i + 1}`));
  await until('two running and two waiting', () => pool.stats().running === 2 && pool.stats().queued === 2);
  const refused = await Promise.all([get(q, '10.3.0.5'), get(q, '10.3.0.6')]);
  for (const r of refused) {
    assert.equal(r.statusCode, 503);
    assert.equal(r.json().error, 'search_busy');
    assert.ok(r.headers['retry-after']);
  }
  for (const r of await Promise.all(admitted)) assert.equal(r.statusCode, 200);
  assert.equal(pool.stats().queued, 0);
});

test('a line too long for the time left stops the search at once, partial and resumable', async () => {
  const t0 = Date.now();
  const r = await get(`/api/v1/commons/search?q=${encodeURIComponent('/(.?){90}x/ file:long')}&budget=500`);
  assert.ok(Date.now() - t0 < 3000, `${Date.now() - t0} ms`);
  assert.equal(r.statusCode, 200);
  const body = r.json();
  assert.equal(body.timedOut, true);
  assert.match(body.notice, /ligne de 900\s000 caractères/);
  assert.ok(body.nextCursor);
});

test('a task past its hard limit has its worker terminated and replaced; the next task is answered', async () => {
  // A task that really outlives its hard limit: the 900,000-character line with a time budget large
  // enough for the engine to try it (a fast task could answer before a 0 ms timer fires on a busy machine).
  const pool = new SearchPool({ size: 1, hardLimit: () => 100 });
  const snap = await poolSnapshot(t.ctx);
  try {
    await assert.rejects(pool.run('search', { query: parseQuery('/(.?){90}x/ file:long'), options: {} }, snap.ref, { budgetMs: 60_000 }), (e: Error & { code?: string; statusCode?: number }) => e.code === 'search_timeout' && e.statusCode === 503);
    assert.equal(pool.stats().restarts, 1);
    const ok = new SearchPool({ size: 1 });
    const r = await ok.run<{ fileCount: number }>('search', { query: parseQuery('needle_marker'), options: {} }, snap.ref, { budgetMs: 1000 });
    assert.equal(r.fileCount, 1);
    await ok.close();
  } finally {
    await pool.close();
  }
});
