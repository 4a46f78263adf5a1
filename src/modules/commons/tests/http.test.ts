/**
 * The commons over HTTP: catalogue pages and API (filters, CSV, README rendered safely, files
 * browser, SWHIDs), code and block search pages, permissions and CSRF on what changes the index,
 * and the background indexing job with its progress.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { addRepository, indexRepository } from '../service.ts';
import { parseSwhid } from '../swhid.ts';
import { renderReadme } from '../pages/index.ts';
import { DEMO_DESCRIPTIONS, DEMO_PACKAGES } from '../demo.ts';
import { gitIn, makeRepo, tmpDir } from './helpers.ts';

const { depsFor, makeUser, signedInBrowser, Browser } = accountsTesting;
type Browser = InstanceType<typeof Browser>;

let t: Awaited<ReturnType<typeof testApp>>;
let dataDir = '';
let repoDir = '';

const UTIL_C = `#include "util.h"

/* Clamp a value between two bounds. */
int clamp_value(int value, int low, int high)
{
\tif (value < low)
\t\treturn low;
\tif (value > high)
\t\treturn high;
\treturn value;
}
`;

before(async () => {
  dataDir = tmpDir('commons-http-');
  t = await testApp({ dataDir });
  repoDir = makeRepo({
    'src/util.c': UTIL_C,
    'src/a #b.c': 'int odd_name_marker;\n',
    'README.md': '# Outil\n\nUn **outil** <script>alert("x")</script> <img src="javascript:alert(1)" alt="x"> [lien](javascript:alert(2)) [doc](https://example.org/doc)\n',
    'publiccode.yml':
      'publiccodeYmlVersion: "0.4"\nname: Outil Régional\nurl: https://forge.example.org/outil.git\nlegal:\n  license: AGPL-3.0-or-later\n  mainCopyrightOwner: Région Exemple\ndevelopmentStatus: beta\ncategories: [data-collection]\nusedBy: [Commune de Test, "=cmd|evil"]\ndescription:\n  fr:\n    shortDescription: Un outil pour les communes\nmaintenance:\n  type: internal\n  contacts:\n    - name: Équipe Outil\n      email: outil@example.org\n',
  });
  await addRepository(t.ctx, repoDir, { slug: 'outil' });
  await indexRepository(t.ctx, 'outil', { worker: false });
  const meta = makeRepo({
    'lib/Parser.java': 'package demo;\n\npublic class Parser {\n  public int parseHeader(String s) { return s.length(); }\n}\n',
    'codemeta.json': JSON.stringify({
      '@context': 'https://doi.org/10.5063/schema/codemeta-2.0',
      name: 'Analyseur',
      description: 'Lit des en-têtes',
      license: 'https://spdx.org/licenses/MIT',
      programmingLanguage: ['Java'],
      keywords: ['parsing'],
      maintainer: { name: 'Département Exemple', email: 'dev@example.org' },
    }),
  });
  await addRepository(t.ctx, meta, { slug: 'analyseur' });
  await indexRepository(t.ctx, 'analyseur', { worker: false });
});

after(async () => {
  await t.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const get = (url: string) => t.app.inject({ method: 'GET', url });

/** A JSON POST as the given browser: its cookies, its CSRF token (unless csrf: false), its address. */
function apiPost(b: Browser, url: string, payload?: object, o: { csrf?: boolean } = {}) {
  const headers: Record<string, string> = { cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'user-agent': 'test-browser' };
  if (o.csrf !== false && b.csrf) headers['x-csrf-token'] = b.csrf;
  return t.app.inject({ method: 'POST', url, payload, remoteAddress: b.ip, headers });
}

test('catalogue API: records from publiccode.yml and codemeta.json, filters, full text, cursor', async () => {
  const all = (await get('/api/v1/commons/software')).json() as { items: { slug: string; name: string; licence: string; languages: string[]; topics: string[]; maintainers: string[]; users: string[]; contact: string; status: string }[] };
  const outil = all.items.find((s) => s.slug === 'outil')!;
  assert.equal(outil.name, 'Outil Régional');
  assert.equal(outil.licence, 'AGPL-3.0-or-later');
  assert.equal(outil.status, 'beta');
  assert.deepEqual(outil.topics, ['data-collection']);
  assert.deepEqual(outil.maintainers, ['Région Exemple']);
  assert.deepEqual(outil.users, ['Commune de Test', '=cmd|evil']);
  assert.equal(outil.contact, 'Équipe Outil — outil@example.org');
  assert.deepEqual(outil.languages, ['c']);
  const an = all.items.find((s) => s.slug === 'analyseur')!;
  assert.equal(an.name, 'Analyseur');
  assert.equal(an.licence, 'MIT');
  assert.deepEqual(an.topics, ['parsing']);
  assert.deepEqual(an.maintainers, ['Département Exemple']);
  const slugs = async (qs: string) => ((await get(`/api/v1/commons/software?${qs}`)).json() as { items: { slug: string }[] }).items.map((s) => s.slug);
  assert.deepEqual(await slugs('language=java'), ['analyseur']);
  assert.deepEqual(await slugs('licence=MIT'), ['analyseur']);
  assert.deepEqual(await slugs(`organisation=${encodeURIComponent('Commune de Test')}`), ['outil']);
  assert.deepEqual(await slugs('topic=parsing'), ['analyseur']);
  assert.deepEqual(await slugs('q=communes'), ['outil']);
  const p1 = (await get('/api/v1/commons/software?limit=1')).json() as { items: { slug: string }[]; nextCursor: string };
  const p2 = (await get(`/api/v1/commons/software?limit=1&cursor=${p1.nextCursor}`)).json() as { items: { slug: string }[] };
  assert.notEqual(p1.items[0]!.slug, p2.items[0]!.slug);
  const bad = await get('/api/v1/commons/software?limit=0');
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().field, 'limit');
});

test('CSV export: one row per software, lists joined, spreadsheet formulas neutralised', async () => {
  const res = await get('/api/v1/commons/software.csv');
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /text\/csv/);
  const lines = res.body.trim().split('\r\n');
  assert.equal(lines[0], 'slug,nom,description,licence,depot,statut,langages,thematiques,mainteneurs,utilisateurs,contact');
  const row = lines.find((l) => l.startsWith('outil,'))!;
  assert.match(row, /Commune de Test\|=cmd\|evil/, 'lists joined with |');
  assert.ok(!/,=cmd/.test(row));
  // A cell starting with "=" would be a formula: it is prefixed.
  const { rows } = await t.db.query<{ id: number }>("UPDATE commons.software SET description = '=HYPERLINK(\"x\")' WHERE slug = 'analyseur' RETURNING id");
  assert.equal(rows.length, 1);
  const csv = (await get('/api/v1/commons/software.csv')).body;
  assert.match(csv, /"'=HYPERLINK\(""x""\)"/);
});

test('software page: README rendered without scripts, who uses it, SWHIDs of the indexed revision', async () => {
  const res = await get('/communs/logiciels/outil');
  assert.equal(res.statusCode, 200);
  const body = res.body;
  assert.match(body, /<strong>outil<\/strong>/, 'Markdown rendered');
  assert.ok(!body.includes('<script>alert'), 'no script from the README');
  assert.ok(!/javascript:alert/.test(body), 'no javascript: URL');
  assert.match(body, /<a href="https:\/\/example.org\/doc" rel="nofollow noopener">doc<\/a>/);
  assert.match(body, /Qui l’utilise[\s\S]*Commune de Test/);
  const head = gitIn(repoDir, 'rev-parse', 'HEAD');
  assert.ok(body.includes(`swh:1:rev:${head}`));
  assert.ok(body.includes(`swh:1:dir:${gitIn(repoDir, 'rev-parse', 'HEAD^{tree}')}`));
  assert.equal((await get('/communs/logiciels/inconnu')).statusCode, 404);
  const api = (await get('/api/v1/commons/software/outil')).json() as { repositories: { revisions: { commit: string; current: boolean }[] }[] };
  assert.equal(api.repositories[0]!.revisions.find((r) => r.current)!.commit, head);
});

test('catalogue page: filters and full text', async () => {
  const res = await get('/communs?language=java');
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /Analyseur/);
  assert.ok(!res.body.includes('Outil Régional'));
  assert.match((await get('/communs?q=communes')).body, /Outil Régional/);
  assert.match((await get('/communs?topic=inexistant')).body, /Aucun logiciel ne correspond/);
});

test('files browser: directories, file text with line anchors, SWHIDs with qualifiers, encoded links', async () => {
  const root = await get('/communs/logiciels/outil/fichiers');
  assert.equal(root.statusCode, 200);
  assert.match(root.body, /href="\/communs\/logiciels\/outil\/fichiers\/src">src\/</);
  const src = await get('/communs/logiciels/outil/fichiers/src');
  assert.ok(src.body.includes('href="/communs/logiciels/outil/fichiers/src/a%20%23b.c"'), 'special characters encoded');
  const dirSha = gitIn(repoDir, 'rev-parse', 'HEAD:src');
  assert.ok(src.body.includes(`swh:1:dir:${dirSha};origin=`));
  const file = await get('/communs/logiciels/outil/fichiers/src/util.c');
  assert.equal(file.statusCode, 200);
  assert.match(file.body, /<span id="L4">int clamp_value\(int value, int low, int high\)<\/span>/);
  const blob = gitIn(repoDir, 'rev-parse', 'HEAD:src/util.c');
  assert.ok(file.body.includes(`swh:1:cnt:${blob};origin=`));
  const odd = await get('/communs/logiciels/outil/fichiers/src/a%20%23b.c');
  assert.equal(odd.statusCode, 200);
  assert.match(odd.body, /odd_name_marker/);
  assert.equal((await get('/communs/logiciels/outil/fichiers/nope.c')).statusCode, 404);
  // The same through the JSON API.
  const api = (await get('/api/v1/commons/software/outil/files?path=src')).json() as { swhid: string; entries: { path: string; swhid: string }[] };
  assert.equal(parseSwhid(api.swhid).hash, dirSha);
  assert.deepEqual(api.entries.map((e) => e.path).sort(), ['src/a #b.c', 'src/util.c']);
  const one = (await get('/api/v1/commons/software/outil/files?path=src/util.c')).json() as { swhid: string; file: { text: string } };
  assert.equal(one.file.text, UTIL_C);
  const p = parseSwhid(one.swhid);
  assert.equal(p.hash, blob);
  assert.equal(p.qualifiers.path, '/src/util.c');
});

test('code search: page with highlighted matches and permalinks; API; clear errors', async () => {
  const page = await get('/communs/recherche?q=clamp_value');
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /<mark>clamp_value<\/mark>/);
  assert.match(page.body, /;lines=4/);
  const api = (await get('/api/v1/commons/search?q=sym:clamp')).json() as { groups: { repository: string; files: { path: string; permalink: string; lines: { line: number; definition: boolean }[] }[] }[] };
  assert.equal(api.groups[0]!.repository, 'outil');
  const f = api.groups[0]!.files[0]!;
  assert.equal(f.path, 'src/util.c');
  assert.ok(f.lines.some((l) => l.line === 4 && l.definition));
  assert.equal(parseSwhid(f.permalink).qualifiers.path, '/src/util.c');
  const bad = await get('/api/v1/commons/search?q=' + encodeURIComponent('/(unclosed/'));
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().field, 'q');
  assert.match(bad.json().message, /Expression régulière invalide/);
  const badPage = await get('/communs/recherche?q=' + encodeURIComponent('"unterminated'));
  assert.equal(badPage.statusCode, 400);
  assert.match(badPage.body, /role="alert"[^>]*>Guillemet fermant manquant/);
});

test('code search: a file with more matching lines than listed says so; every line is reachable (issue 15)', async () => {
  const text = Array.from({ length: 1030 }, (_, i) => `int v${i} = ZNUL_MARK;`).join('\n') + '\n';
  const dir = makeRepo({ 'src/many.c': text, 'src/few.c': 'int a = ZNUL_MARK;\nint b = ZNUL_MARK;\n' });
  await addRepository(t.ctx, dir, { slug: 'nuls' });
  await indexRepository(t.ctx, 'nuls', { worker: false });
  type Api = { matchCount: number; groups: { files: { path: string; matchCount: number; moreLines: boolean; lines: { line: number; context?: boolean }[] }[] }[] };
  const files = (r: Api) => new Map(r.groups.flatMap((g) => g.files).map((f) => [f.path, f]));
  // Default: 20 lines a file; the long file says more match.
  let r = (await get('/api/v1/commons/search?q=ZNUL_MARK&context=0')).json() as Api;
  assert.equal(files(r).get('src/many.c')!.lines.length, 20);
  assert.equal(files(r).get('src/many.c')!.moreLines, true);
  assert.equal(files(r).get('src/few.c')!.moreLines, false);
  // Exactly as many as listed: not "more".
  r = (await get('/api/v1/commons/search?q=ZNUL_MARK&context=0&lines=2')).json() as Api;
  assert.equal(files(r).get('src/few.c')!.moreLines, false);
  assert.equal(files(r).get('src/few.c')!.lines.length, 2);
  // lines=1000: the first 1000 lines in order, still cut (1030 match), and said to be.
  r = (await get('/api/v1/commons/search?q=ZNUL_MARK&context=0&lines=1000')).json() as Api;
  const many = files(r).get('src/many.c')!;
  assert.deepEqual(many.lines.map((l) => l.line), Array.from({ length: 1000 }, (_, i) => i + 1));
  assert.equal(many.moreLines, true);
  assert.equal((await get('/api/v1/commons/search?q=ZNUL_MARK&lines=1001')).statusCode, 400);
  // The line cursor: blob= and after_line= continue within the file, up to its last line.
  const api = (await get('/api/v1/commons/search?q=ZNUL_MARK&context=0&lines=1000')).json() as { groups: { files: { path: string; blob: string; nextAfterLine: number | null }[] }[] };
  const long = api.groups.flatMap((g) => g.files).find((f) => f.path === 'src/many.c')!;
  assert.equal(long.nextAfterLine, 1000);
  r = (await get(`/api/v1/commons/search?q=ZNUL_MARK&context=0&lines=1000&blob=${long.blob}&after_line=1000`)).json() as Api;
  assert.deepEqual([...files(r).keys()], ['src/many.c']);
  assert.deepEqual(files(r).get('src/many.c')!.lines.map((l) => l.line), Array.from({ length: 30 }, (_, i) => i + 1001));
  assert.equal(files(r).get('src/many.c')!.moreLines, false);
  // Hostile cursor values: 400 naming the parameter.
  for (const [qs, field] of [
    ['after_line=5', 'after_line'],
    [`blob=${long.blob}&after_line=-1`, 'after_line'],
    [`blob=${long.blob}&after_line=1e99`, 'after_line'],
    [`blob=${long.blob}&after_line=12abc`, 'after_line'],
    [`blob=${long.blob}&after_line=100000001`, 'after_line'],
    ['blob=constructor&after_line=3', 'blob'],
    ['blob=__proto__', 'blob'],
    [`blob=${long.blob}%00&after_line=3`, 'blob'],
    [`blob=${long.blob.toUpperCase()}`, 'blob'],
  ]) {
    const bad = await get(`/api/v1/commons/search?q=ZNUL_MARK&${qs}`);
    assert.equal(bad.statusCode, 400, qs);
    assert.match(JSON.stringify(bad.json()), new RegExp(field), qs);
    assert.equal((await get(`/communs/recherche?q=ZNUL_MARK&${qs}`)).statusCode, 400, qs);
  }
  // The page: the cut is stated, with the link to the file's next lines (and one that lists up to
  // 1000 lines a file); past 1000, the next lines of that file, up to its last.
  let page = await get('/communs/recherche?q=ZNUL_MARK');
  assert.match(page.body, new RegExp(`20 premières lignes correspondantes affichées : ce fichier en a d’autres\\. <a href="/communs/recherche\\?q=ZNUL_MARK&amp;blob=${long.blob}&amp;after_line=20&amp;lines=1000">Lignes correspondantes suivantes de ce fichier \\(après la ligne 20\\)</a> · <a href="/communs/recherche\\?q=ZNUL_MARK&amp;lines=1000">`));
  page = await get('/communs/recherche?q=ZNUL_MARK&lines=1000');
  assert.match(page.body, new RegExp(`1\u202f000 premières lignes correspondantes affichées : ce fichier en a d’autres\\. <a href="/communs/recherche\\?q=ZNUL_MARK&amp;blob=${long.blob}&amp;after_line=1000&amp;lines=1000">`));
  assert.equal(page.body.split('ce fichier en a d’autres').length, 2, 'only the long file says its list is cut');
  page = await get(`/communs/recherche?q=ZNUL_MARK&blob=${long.blob}&after_line=1000&lines=1000`);
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /Lignes d’un seul fichier/);
  assert.match(page.body, /scope="row">1030<\/th>/);
  assert.doesNotMatch(page.body, /scope="row">999<\/th>/, 'lines after the cursor (and their context) only');
  assert.doesNotMatch(page.body, /ce fichier en a d’autres/);
  assert.equal((await get('/communs/recherche?q=ZNUL_MARK&lines=0')).statusCode, 400);
});

test('block search page: CSRF-protected form, side-by-side result with a similarity score', async () => {
  const b = new Browser(t.app);
  const form = await b.get('/communs/blocs');
  assert.equal(form.status, 200);
  const renamed = `int borne(int v, int mini, int maxi)
{
    if (v < mini) return mini;   // lower
    if (v > maxi) return maxi;
    return v;
}`;
  const res = await b.post('/communs/blocs', { code: renamed });
  assert.equal(res.status, 200);
  assert.match(res.body, /outil — src\/util\.c, lignes 4–11/);
  assert.match(res.body, /Similarité : <strong>\d+ %<\/strong>/);
  assert.match(res.body, /class="side"/);
  const noToken = await new Browser(t.app).post('/communs/blocs', { code: renamed }, { csrf: false });
  assert.equal(noToken.status, 403);
  const short = await b.post('/communs/blocs', { code: 'int x;' });
  assert.equal(short.status, 400);
  assert.match(short.body, /au moins 5 lignes/);
});

test('adding and re-indexing repositories needs the sources.manage permission; local paths only from the CLI', async () => {
  const anon = new Browser(t.app);
  await anon.get('/communs/blocs');
  const r1 = await apiPost(anon, '/api/v1/commons/repositories/outil/index');
  assert.equal(r1.statusCode, 401);
  const deps = depsFor(t.db, t.ctx.config);
  const plain = await makeUser(deps, 'lecteur@example.org', []);
  const b1 = await signedInBrowser(t.app, deps, plain);
  await b1.get('/communs/blocs');
  const r2 = await apiPost(b1, '/api/v1/commons/repositories', { source: 'https://example.org/x.git' });
  assert.equal(r2.statusCode, 403);
  const admin = await makeUser(deps, 'admin@example.org', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }]);
  const b2 = await signedInBrowser(t.app, deps, admin);
  await b2.get('/communs/blocs');
  for (const source of [repoDir, `file://${repoDir}`, '/etc']) {
    const r = await apiPost(b2, '/api/v1/commons/repositories', { source });
    assert.equal(r.statusCode, 400, source);
    assert.equal(r.json().field, 'source');
  }
  const noCsrf = await apiPost(b2, '/api/v1/commons/repositories', { source: 'https://example.org/x.git' }, { csrf: false });
  assert.equal(noCsrf.statusCode, 403);
  const ok = await apiPost(b2, '/api/v1/commons/repositories', { source: 'https://forge.example.org/groupe/nouveau.git', index: false });
  assert.equal(ok.statusCode, 201);
  assert.equal(ok.json().software, 'nouveau');
  assert.equal(ok.json().job, null);
});

test('indexing runs as a background job with progress; searches keep answering meanwhile', async () => {
  const dir = makeRepo({ 'job.c': 'int background_job_marker(void) { return 7; }\n', 'more.py': 'def other():\n    return 1\n' });
  await addRepository(t.ctx, dir, { slug: 'tache' });
  await t.app.listen({ host: '127.0.0.1', port: 0 }); // starts the job workers
  const deps = depsFor(t.db, t.ctx.config);
  const admin = await makeUser(deps, 'admin2@example.org', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }]);
  const b = await signedInBrowser(t.app, deps, admin);
  await b.get('/communs/blocs');
  const res = await apiPost(b, '/api/v1/commons/repositories/tache/index');
  assert.equal(res.statusCode, 202, res.body);
  const { status } = res.json() as { status: string };
  // Searches answer while the job is queued or running.
  assert.equal((await get('/api/v1/commons/search?q=clamp_value')).statusCode, 200);
  let job: { state: string; progress: { phase?: string } | null; output: { files?: number; newBlobs?: number } | null } = { state: 'created', progress: null, output: null };
  for (let i = 0; i < 600 && !['completed', 'failed'].includes(job.state); i++) {
    await new Promise((r) => setTimeout(r, 100));
    job = (await get(status)).json();
  }
  assert.equal(job.state, 'completed', JSON.stringify(job));
  assert.ok(job.progress && typeof job.progress.phase === 'string', 'progress recorded');
  assert.equal(job.output!.files, 2);
  assert.equal(job.output!.newBlobs, 2);
  const found = (await get('/api/v1/commons/search?q=background_job_marker')).json() as { fileCount: number };
  assert.equal(found.fileCount, 1);
  assert.equal((await get('/api/v1/commons/jobs/not-a-uuid')).statusCode, 400);
  assert.equal((await get('/api/v1/commons/jobs/00000000-0000-4000-8000-000000000000')).statusCode, 404);
  void path;
});

test('README: every image gets a text alternative, links without a name are dropped, code blocks take the keyboard focus', () => {
  const md = [
    '[![](https://img.example.org/badges/build-status.svg)](https://ci.example.org/outil)',
    '![Capture](https://img.example.org/capture.png) ![](https://img.example.org/x.png "Schéma du réseau") ![](https://img.example.org/%E0%A4%A.png)',
    '[](https://vide.example.org)',
    '```sh\n' + 'make '.repeat(80) + '\n```',
  ].join('\n\n');
  const out = renderReadme(md, 'README.md').value;
  assert.match(out, /<a href="https:\/\/ci\.example\.org\/outil" rel="nofollow noopener"><img src="https:\/\/img\.example\.org\/badges\/build-status\.svg" alt="Image : build status" \/><\/a>/);
  assert.match(out, /alt="Capture"/);
  assert.match(out, /alt="Schéma du réseau"/);
  assert.match(out, /alt="Image : %E0%A4%A"/);
  assert.doesNotMatch(out, /vide\.example\.org/);
  assert.match(out, /<pre tabindex="0"><code class="language-sh">/);
  assert.match(renderReadme('plain text', 'README.txt').value, /^<pre tabindex="0">plain text<\/pre>$/);
});

test('the demo catalogue describes its software in French', () => {
  for (const name of DEMO_PACKAGES) {
    const english = (JSON.parse(fs.readFileSync(path.join('node_modules', name, 'package.json'), 'utf8')) as { description?: string }).description;
    assert.ok(DEMO_DESCRIPTIONS[name], name);
    assert.notEqual(DEMO_DESCRIPTIONS[name], english, name);
  }
});
