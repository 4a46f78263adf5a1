/**
 * Public site benchmark (`npm run bench:site`): over a 20,000-place base on the embedded database,
 * the results page's server response time (p50/p95/p99 through HTTP, several representative
 * searches), its weight (HTML + CSS, gzip) and the list page's JavaScript weight (gzip, MapLibre
 * excluded: it loads separately). Budgets: p95 ≤ 50 ms; HTML + CSS ≤ 60 KB; JS ≤ 30 KB.
 * Results go to the "Public site" section of docs/benchmarks.md.
 *
 * Environment: BENCH_SITE_PLACES (default 20000), BENCH_SITE_REQUESTS (default 300 per URL).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import autocannon from 'autocannon';
import { loadConfig } from '../src/platform/config.ts';
import { openDb } from '../src/platform/db/index.ts';
import { createLogger } from '../src/platform/log.ts';
import { silentProgress } from '../src/platform/progress.ts';
import { buildApp, migrateAll } from '../src/app.ts';
import { modules } from '../src/modules/registry.ts';
import { listCommunes } from '../src/modules/territories/index.ts';
import { generatePlaces, upsertPlaces } from '../src/modules/places/index.ts';
import { machine, ms, percentiles, writeSection } from './lib.ts';

const TOTAL = Number(process.env.BENCH_SITE_PLACES ?? 20_000);
const REQUESTS = Number(process.env.BENCH_SITE_REQUESTS ?? 300);
const BUDGET = { p95: 50, htmlCss: 60 * 1024, js: 30 * 1024 };

const URLS: { name: string; path: string }[] = [
  { name: 'commune typed by name (Évreux)', path: '/recherche?q=%C3%89vreux' },
  { name: 'postal code (69003, Lyon)', path: '/recherche?q=69003' },
  { name: 'big city + 2 filters (Paris)', path: `/recherche?q=Paris&services=${encodeURIComponent('Aide aux démarches administratives')}&frais_a_charge=Gratuit` },
  { name: 'position + open now (Rennes)', path: '/recherche?near=48.1173,-1.6778&radius=20&open_now=1' },
  { name: 'département, page 3 (Eure)', path: '/recherche?territory=departement:27&page=3' },
  { name: 'all of France, no criteria', path: '/recherche' },
];

function gz(b: Buffer | string): number {
  return zlib.gzipSync(typeof b === 'string' ? Buffer.from(b) : b, { level: 6 }).length;
}

function kb(n: number): string {
  return `${(n / 1024).toFixed(1)} KB`;
}

async function main() {
  const config = loadConfig({ ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'silent' }, { host: '127.0.0.1', port: 0 });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-bench-site-'));
  const db = await openDb({ databaseUrl: null, pgliteDir: path.join(tmp, 'pglite') });
  const log = createLogger('silent');
  await migrateAll(db);
  for (const m of modules) if (m.seedReference) await m.seedReference({ config, db, log, progress: () => silentProgress() });
  const communes = await listCommunes(db);
  const records = generatePlaces(communes, TOTAL, 7);
  for (let i = 0; i < records.length; i += 5000) await upsertPlaces(db, records.slice(i, i + 5000), { source: 'bench' });
  console.error(`database ready: ${TOTAL} places`);

  const { app } = await buildApp(config, db, log);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  const rows: string[] = [];
  let worstP95 = 0;
  for (const u of URLS) {
    // Warm-up, then sequential requests (one connection) for clean per-request latencies.
    for (let i = 0; i < 10; i++) await fetch(base + u.path, { headers: { accept: 'text/html' } }).then((r) => r.arrayBuffer());
    const samples: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t = process.hrtime.bigint();
      const r = await fetch(base + u.path, { headers: { accept: 'text/html', 'accept-encoding': 'gzip' } });
      await r.arrayBuffer();
      samples.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (r.status !== 200) throw new Error(`${u.path}: HTTP ${r.status}`);
    }
    const p = percentiles(samples);
    worstP95 = Math.max(worstP95, p.p95);
    rows.push(`| ${u.name} | ${ms(p.p50)} | ${ms(p.p95)} | ${ms(p.p99)} |`);
    console.error(`${u.name}: p50 ${ms(p.p50)} ms, p95 ${ms(p.p95)} ms`);
  }

  // Throughput with concurrent clients on the commonest search.
  const ac = await autocannon({ url: base + URLS[0]!.path, connections: 10, duration: 10, headers: { accept: 'text/html', 'accept-encoding': 'gzip' } });

  // Weights of the results page.
  const pageHtml = await (await fetch(base + URLS[0]!.path, { headers: { accept: 'text/html' } })).text();
  const css = ['tokens.css', 'components.css'].map((f) => fs.readFileSync(path.join('src/platform/html/assets', f)));
  const htmlGz = gz(pageHtml);
  const cssGz = css.reduce((s, b) => s + gz(b), 0);
  const scripts = [...pageHtml.matchAll(/<script type="module" src="([^"]+)"/g)].map((m) => m[1]!.split('?')[0]!);
  let jsGz = 0;
  const jsParts: string[] = [];
  for (const s of [...scripts, '/site/assets/map.js']) {
    const body = Buffer.from(await (await fetch(base + s)).arrayBuffer());
    jsGz += gz(body);
    jsParts.push(`${s} ${kb(gz(body))}`);
  }
  const maplibre = gz(Buffer.from(await (await fetch(`${base}/site/maplibre/maplibre-gl.mjs`)).arrayBuffer()));
  const points = Buffer.from(await (await fetch(`${base}/carte/points.json`)).arrayBuffer());

  await app.close();
  await db.close();
  fs.rmSync(tmp, { recursive: true, force: true });

  const ok = (v: boolean) => (v ? 'within budget' : '**over budget**');
  const md = `## Public site

Results page over ${TOTAL.toLocaleString('en')} generated places, embedded database (PGlite), server in
the benchmark process, ${REQUESTS} sequential requests per URL after 10 warm-up requests (HTML,
gzip). Machine: ${machine()}. Date: ${new Date().toISOString().slice(0, 10)}.

| search (results page, 20 per page) | p50 ms | p95 ms | p99 ms |
|---|---|---|---|
${rows.join('\n')}

- Worst p95: **${ms(worstP95)} ms** (budget ≤ ${BUDGET.p95} ms: ${ok(worstP95 <= BUDGET.p95)}).
- Throughput, 10 concurrent connections, « Évreux » results page: ${Math.round(ac.requests.average)} req/s, p99 ${ac.latency.p99} ms.
- Results page weight, gzip: HTML ${kb(htmlGz)} + CSS ${kb(cssGz)} = **${kb(htmlGz + cssGz)}** (budget ≤ 60 KB: ${ok(htmlGz + cssGz <= BUDGET.htmlCss)}).
- JavaScript of the list page, gzip: **${kb(jsGz)}** (${jsParts.join(', ')}; budget ≤ 30 KB: ${ok(jsGz <= BUDGET.js)}).
- Loaded separately, only where a map is shown: MapLibre GL JS ${kb(maplibre)} gzip (+ its worker), map points for all of France ${kb(points.length)} raw / ${kb(gz(points))} gzip.
`;
  writeSection('site', md);
  console.log(md);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
