/**
 * Public site benchmark (`npm run bench:site`): over a 20,000-place base on the embedded database,
 * the results page's server response time (p50/p95/p99 through HTTP, several representative
 * searches), its weight (HTML + CSS, gzip) and the list page's JavaScript weight (gzip, MapLibre
 * excluded: it loads separately). Budgets: p95 ≤ 50 ms; HTML + CSS ≤ 60 KB; JS ≤ 30 KB.
 * Prints a Markdown section, and writes it to BENCH_SITE_OUT when set (the project's results live in
 * docs/benchmarks.md, merged from there).
 *
 * Environment: BENCH_SITE_PLACES (default 20000), BENCH_SITE_REQUESTS (default 300 per URL),
 * BENCH_SITE_OUT (file to write the Markdown section to).
 */
import crypto from 'node:crypto';
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
import { machine, ms, percentiles } from './lib.ts';

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
  const machineAtStart = machine();
  // Production settings (as served), with a throw-away secret when none is given.
  const env = { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'silent', SECRET_KEY: process.env.SECRET_KEY || crypto.randomBytes(32).toString('hex') };
  const config = loadConfig(env, { host: '127.0.0.1', port: 0 });
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
  let worstHtml = { gz: 0, name: '' };
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
    const body = await (await fetch(base + u.path, { headers: { accept: 'text/html' } })).text();
    const size = gz(body);
    if (size > worstHtml.gz) worstHtml = { gz: size, name: u.name };
    rows.push(`| ${u.name} | ${ms(p.p50)} | ${ms(p.p95)} | ${ms(p.p99)} | ${kb(size)} |`);
    console.error(`${u.name}: p50 ${ms(p.p50)} ms, p95 ${ms(p.p95)} ms`);
  }

  // Throughput with concurrent clients on the commonest search.
  const ac = await autocannon({ url: base + URLS[0]!.path, connections: 10, duration: 10, headers: { accept: 'text/html', 'accept-encoding': 'gzip' } });

  // Weights of the results page: the heaviest HTML of the searches above, the stylesheets and
  // scripts it links to, as served.
  const pageHtml = await (await fetch(base + URLS[0]!.path, { headers: { accept: 'text/html' } })).text();
  const htmlGz = worstHtml.gz;
  let cssGz = 0;
  for (const m of pageHtml.matchAll(/<link rel="stylesheet" href="([^"]+)"/g)) cssGz += gz(Buffer.from(await (await fetch(base + m[1]!)).arrayBuffer()));
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
  const mapLine = await browserMap(base).catch((e: Error) => `not measured (${e.message.split('\n')[0]})`);

  await app.close();
  await db.close();
  fs.rmSync(tmp, { recursive: true, force: true });

  const ok = (v: boolean) => (v ? 'within budget' : '**over budget**');
  const md = `## Public site

Results page over ${TOTAL.toLocaleString('en')} generated places, embedded database (PGlite), server in
the benchmark process, ${REQUESTS} sequential requests per URL after 10 warm-up requests (HTML,
gzip). Command: \`node --import tsx bench/site.ts\`. Machine: ${machineAtStart}; load average at the end
${os.loadavg().map((x) => x.toFixed(1)).join(' / ')}. Date: ${new Date().toISOString().slice(0, 10)}.

| search (results page, 20 per page) | p50 ms | p95 ms | p99 ms | HTML gzip |
|---|---|---|---|---|
${rows.join('\n')}

- Worst p95: **${ms(worstP95)} ms** (budget ≤ ${BUDGET.p95} ms: ${ok(worstP95 <= BUDGET.p95)}).
- Throughput, 10 concurrent connections, « Évreux » results page: ${Math.round(ac.requests.average)} req/s, p99 ${ac.latency.p99} ms.
- Results page weight, gzip: HTML ${kb(htmlGz)} (heaviest: ${worstHtml.name}) + CSS ${kb(cssGz)} = **${kb(htmlGz + cssGz)}** (budget ≤ 60 KB: ${ok(htmlGz + cssGz <= BUDGET.htmlCss)}).
- JavaScript of the list page, gzip: **${kb(jsGz)}** (${jsParts.join(', ')}; budget ≤ 30 KB: ${ok(jsGz <= BUDGET.js)}).
- Map with every place of France clustered (Chromium, software WebGL): ${mapLine}.
- Loaded separately, only where a map is shown: MapLibre GL JS ${kb(maplibre)} gzip (+ its worker), map points for all of France ${kb(points.length)} raw / ${kb(gz(points))} gzip.
`;
  if (process.env.BENCH_SITE_OUT) fs.writeFileSync(process.env.BENCH_SITE_OUT, md);
  console.log(md);
}

/**
 * The map in a real browser with all places of France: time until the clustered map is drawn, and
 * frame rate while it zooms in three steps (software rendering: a floor for real devices).
 */
async function browserMap(base: string): Promise<string> {
  const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!fs.existsSync(chromiumPath)) return `not measured (no Chromium at ${chromiumPath})`;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const t0 = Date.now();
    await page.goto(`${base}/recherche`);
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-map="results"]') as (HTMLElement & { maplibreMap?: { loaded(): boolean } }) | null;
      return el?.dataset.ready === '1' && (el.maplibreMap?.loaded() ?? false) && document.querySelector('.cluster-label') !== null;
    }, undefined, { timeout: 120_000 });
    const ready = Date.now() - t0;
    // A string, not a function: the TypeScript loader would wrap named functions in helpers the
    // page does not have.
    const fps = (await page.evaluate(`(async () => {
      const map = document.querySelector('[data-map="results"]').maplibreMap;
      let frames = 0;
      let running = true;
      function tick() { frames++; if (running) requestAnimationFrame(tick); }
      requestAnimationFrame(tick);
      const start = performance.now();
      const z0 = map.getZoom();
      for (const z of [z0 + 1.5, z0 + 3, z0 + 4.5]) {
        map.zoomTo(z, { duration: 1000 });
        await new Promise((r) => map.once('moveend', r));
      }
      running = false;
      return (frames * 1000) / (performance.now() - start);
    })()`)) as number;
    const clusters = await page.locator('.cluster-label').count();
    return `drawn ${(ready / 1000).toFixed(1)} s after navigation (page, MapLibre, points, clustering), ${Math.round(fps)} frames/s while zooming, ${clusters} cluster labels at the end`;
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
