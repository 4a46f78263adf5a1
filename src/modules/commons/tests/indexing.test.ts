import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { addRepository, indexRepository, search, blockSearch, getSoftware, browse, duplicates, searcher } from '../service.ts';
import { parseSwhid } from '../swhid.ts';
import { commitAll, gitIn, makeRepo, testContext, tmpDir, writeFiles } from './helpers.ts';

let ctx: Awaited<ReturnType<typeof testContext>>;
let demoSlug = '';
before(async () => {
  ctx = await testContext();
});
after(async () => {
  await ctx.close();
});

const MAIN_C = `#include <stdio.h>

/* Sum of an array. */
static int array_total(const int *values, int count)
{
\tint sum = 0;
\tfor (int i = 0; i < count; i++)
\t\tsum += values[i];
\treturn sum;
}

int main(void)
{
\tint data[] = {1, 2, 3};
\tprintf("%d\\n", array_total(data, 3));
\treturn 0;
}
`;

test('indexes a local repository: head, tags, skips, SWHIDs, symlinks and submodules', async () => {
  const sub = makeRepo({ 'lib.c': 'int lib(void) { return 1; }\n' });
  const dir = makeRepo({
    'src/main.c': MAIN_C,
    'src/util.py': 'def parse_config(path):\n    return open(path).read()\n',
    'README.md': '# Démo\n\nUn logiciel <script>alert(1)</script> de test.\n',
    'publiccode.yml': 'publiccodeYmlVersion: "0.4"\nname: Demo Commun\nurl: https://example.org/demo.git\nlegal:\n  license: EUPL-1.2\ndevelopmentStatus: stable\ncategories: [it-development]\ndescription:\n  fr:\n    shortDescription: Un commun de démonstration\nusedBy: [Région Exemple]\n',
    'vendor/lib/big.js': 'function vendored_thing() {}\n',
    'dist/app.min.js': 'var minified_marker=1;\n',
    'assets/logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13]),
    'data/fake.txt': Buffer.concat([Buffer.from('text then a NUL '), Buffer.from([0]), Buffer.from(' hidden_binary_marker')]),
    'data/latin1.c': Buffer.from('/* caf\xe9 */ int latin1_marker;\n', 'latin1'),
    'data/huge.c': 'int huge_marker;\n' + 'x'.repeat(2 * 1024 * 1024),
  });
  fs.symlinkSync('src/main.c', path.join(dir, 'link.c'));
  gitIn(dir, 'submodule', 'add', '-q', sub, 'modules/sub');
  commitAll(dir, 'links');
  gitIn(dir, 'tag', 'v1.0');
  gitIn(dir, 'tag', '-a', '-m', 'release', 'v1.1');
  const added = await addRepository(ctx, dir, { name: 'Demo' });
  assert.equal(added.created, true);
  demoSlug = added.software.slug;
  const report = await indexRepository(ctx, added.software.slug, { worker: false });
  assert.equal(report.refs, 3);
  assert.deepEqual(report.skipped, { vendored: 1, generated: 1, binary: 3, too_large: 1 });

  const { software, repositories } = await getSoftware(ctx, added.software.slug);
  // publiccode.yml fills the record.
  assert.equal(software.name, 'Demo Commun');
  assert.equal(software.licence, 'EUPL-1.2');
  assert.equal(software.status, 'stable');
  assert.deepEqual(software.users, ['Région Exemple']);
  assert.equal(software.description, 'Un commun de démonstration');
  assert.ok(software.readme?.includes('# Démo'));
  const rev = repositories[0]!.revisions.find((r) => r.current)!;
  assert.equal(rev.commit, gitIn(dir, 'rev-parse', 'HEAD'));
  assert.equal(rev.swhid.dir, `swh:1:dir:${gitIn(dir, 'rev-parse', 'HEAD^{tree}')}`);
  assert.equal(rev.swhid.rev, `swh:1:rev:${gitIn(dir, 'rev-parse', 'HEAD')}`);
  assert.ok(repositories[0]!.revisions.some((r) => r.ref === 'v1.0' && r.kind === 'tag' && r.swhid.rel === null));
  // An annotated tag is a release: its SWHID is its tag object's hash.
  const rel = repositories[0]!.revisions.find((r) => r.ref === 'v1.1')!;
  assert.equal(rel.swhid.rel, `swh:1:rel:${gitIn(dir, 'rev-parse', 'v1.1')}`);
  assert.equal(rel.commit, gitIn(dir, 'rev-parse', 'v1.1^{commit}'));

  // Files browser: symlink and submodule are listed with their kind, binary marked.
  const root = await browse(ctx, software.slug, '');
  const kinds = Object.fromEntries(root.entries.map((e) => [e.path, e.kind]));
  assert.equal(kinds['link.c'], 'symlink');
  assert.equal(kinds['src'], 'dir');
  const mods = await browse(ctx, software.slug, 'modules');
  assert.equal(mods.entries[0]!.kind, 'submodule');
  const mainFile = await browse(ctx, software.slug, 'src/main.c');
  assert.equal(mainFile.text, MAIN_C);
  assert.equal(mainFile.entry!.sha, gitIn(dir, 'rev-parse', 'HEAD:src/main.c'));

  // Search: literal, skipped files never match, symlink target not searched twice.
  const r = await search(ctx, 'array_total');
  assert.equal(r.fileCount, 1);
  const f = r.groups[0]!.files[0]!;
  assert.equal(f.path, 'src/main.c');
  assert.deepEqual(f.lines.filter((l) => !l.context).map((l) => l.line), [4, 15]);
  assert.ok(f.lines.find((l) => l.line === 4)!.definition, 'the definition line is flagged');
  const p = parseSwhid(f.permalink);
  assert.equal(p.hash, gitIn(dir, 'rev-parse', 'HEAD:src/main.c'));
  assert.deepEqual(p.qualifiers.lines, [4, 15]);
  assert.equal(p.qualifiers.path, '/src/main.c');
  assert.equal(p.qualifiers.anchor, `swh:1:rev:${rev.commit}`);
  for (const marker of ['vendored_thing', 'minified_marker', 'hidden_binary_marker', 'latin1_marker', 'huge_marker']) {
    assert.equal((await search(ctx, marker)).fileCount, 0, marker);
  }
});

test('query language end to end: regex, case, repo:, file:, lang:, sym:, negation, phrases', async () => {
  const n = (q: string) => search(ctx, q).then((r) => r.groups.flatMap((g) => g.files.map((f) => `${f.path}:${f.lines.filter((l) => !l.context).map((l) => l.line).join(',')}`)));
  assert.deepEqual(await n('/array_[a-z]+\\(data/'), ['src/main.c:15']);
  assert.deepEqual(await n('ARRAY_TOTAL'), ['src/main.c:4,15']);
  assert.deepEqual(await n('ARRAY_TOTAL case:yes'), []);
  assert.deepEqual(await n('"int sum = 0"'), ['src/main.c:6']);
  assert.deepEqual(await n('return lang:python'), ['src/util.py:2']);
  assert.deepEqual(await n('return file:*.py'), ['src/util.py:2']);
  assert.deepEqual(await n('return -file:*.py'), ['src/main.c:9,16']);
  assert.deepEqual(await n('return -printf'), ['src/util.py:2']);
  assert.deepEqual(await n('sym:parse_conf'), ['src/util.py:1']);
  assert.deepEqual(await n('/(array|data)_total\\(/'), ['src/main.c:4,15']);
  assert.deepEqual(await n('/(?i)ARRAY_total\\(data/ case:yes'), ['src/main.c:15'], 'an inline (?i) folds case under case:yes');
  assert.deepEqual(await n('/ARRAY_total/ case:yes'), []);
  assert.deepEqual(await n('return repo:nothing-like-this'), []);
  assert.equal((await n(`return repo:${demoSlug}`)).length, 2);
});

test('pathological regexes answer quickly and queries of short tokens are bounded', async () => {
  const dir = makeRepo({ 'aaa.txt': 'a'.repeat(50_000) + '\n', 'short.c': 'if (x) { y = 1; }\n' });
  await addRepository(ctx, dir, { slug: 'hostile' });
  await indexRepository(ctx, 'hostile', { worker: false });
  // (a+)+$ on a long line of a's followed by nothing matches; followed by "b" it must fail fast.
  const r1 = await search(ctx, '/(a+)+b/ repo:hostile');
  assert.equal(r1.fileCount, 0);
  const r2 = await search(ctx, '/(a|aa)*c/ repo:hostile');
  assert.equal(r2.fileCount, 0);
  const r3 = await search(ctx, '/(x+x+)+y/');
  assert.equal(r3.fileCount, 0);
  // Only short tokens: no trigram; still answered (bounded scan), never an error.
  const r4 = await search(ctx, 'if');
  assert.ok(r4.fileCount >= 1);
  // Short tokens are not capped by bytes scanned any more: the whole answer, in windows chained by cursors.
  const paths = (r: Awaited<ReturnType<typeof search>>) => r.groups.flatMap((g) => g.files.map((f) => `${g.repository}/${f.path}`));
  const full = await search(ctx, 'if', { limit: 1000, maxFiles: Infinity });
  assert.equal(full.nextCursor, null);
  assert.equal(full.truncated, false);
  const walked: string[] = [];
  let cursor: string | null = null;
  let windows = 0;
  do {
    const w: Awaited<ReturnType<typeof search>> = await search(ctx, 'if', { limit: 1000, maxFiles: 1, cursor });
    walked.push(...paths(w));
    assert.equal(w.fileCount <= 1, true);
    cursor = w.nextCursor;
    windows++;
  } while (cursor && windows < 100);
  assert.ok(windows > 1);
  assert.deepEqual(walked.sort(), paths(full).sort(), 'the windows together are the whole answer');
  // Hostile patterns are refused before they run (repetition count, compiled size), naming q.
  for (const q of ['/(.?){1000}x/', '/(.*){1,1000}/', '/a{1000}/', '/(abcdefgh{20}){40}/']) {
    await assert.rejects(search(ctx, q), (e: Error & { field?: string; statusCode?: number }) => e.statusCode === 400 && e.field === 'q' && /limite|complexe/.test(e.message), q);
  }
  // A cursor from another generation of the index is refused, naming the parameter.
  await assert.rejects(search(ctx, 'if', { cursor: '999999.3' }), (e: Error & { field?: string }) => e.field === 'cursor');
  await assert.rejects(search(ctx, 'if', { cursor: 'constructor' }), (e: Error & { field?: string }) => e.field === 'cursor');
});

test('content-addressed: a blob shared by repositories and revisions is indexed once; re-index reads only new blobs', async () => {
  const dir = makeRepo({ 'a.js': 'export function shared_helper() { return 42; }\n', 'b.js': 'export const other = 1;\n' });
  await addRepository(ctx, dir, { slug: 'first' });
  const r1 = await indexRepository(ctx, 'first', { worker: true });
  assert.equal(r1.newBlobs, 2);
  // The same file in another repository.
  const dir2 = makeRepo({ 'lib/a.js': 'export function shared_helper() { return 42; }\n', 'c.js': 'export const third = 3;\n' });
  await addRepository(ctx, dir2, { slug: 'second' });
  const r2 = await indexRepository(ctx, 'second', { worker: true });
  assert.equal(r2.newBlobs, 1, 'only c.js is new');
  const s = await search(ctx, 'shared_helper');
  assert.deepEqual(s.groups.map((g) => g.repository).sort(), ['first', 'second']);
  // A new commit: only the changed blob is read; the old content disappears from results.
  writeFiles(dir, { 'b.js': 'export const other = 2; // changed_marker\n' });
  commitAll(dir, 'change');
  const r3 = await indexRepository(ctx, 'first', { worker: true });
  assert.equal(r3.newBlobs, 1);
  assert.equal((await search(ctx, 'changed_marker')).fileCount, 1);
  assert.equal((await search(ctx, '"other = 1"')).fileCount, 0);
  // Nothing changed: nothing read.
  const r4 = await indexRepository(ctx, 'first', { worker: true });
  assert.equal(r4.newBlobs, 0);
});

test('block search finds a block with renamed identifiers and literals, side by side', async () => {
  const renamed = `int somme_tableau(const int *tab, int n)
{
  // recomputed
  int acc = 100;
  for (int k = 5; k < n; k++) acc += tab[k];
  return acc;
}
`;
  const r = await blockSearch(ctx, renamed);
  assert.ok(r.matches.length >= 1);
  const m = r.matches[0]!;
  assert.equal(m.path, 'src/main.c');
  assert.deepEqual(m.lines, [4, 10]);
  assert.equal(m.identical, false);
  assert.ok(m.similarity > 0.9, String(m.similarity));
  assert.match(m.permalink, /;lines=4-10$/);
  // The same block as written (other layout, no comment) is identical.
  const same = MAIN_C.split('\n').slice(3, 10).join('\n').replace(/\t/g, '    ');
  const r2 = await blockSearch(ctx, same);
  assert.equal(r2.matches[0]!.identical, true);
  await assert.rejects(() => blockSearch(ctx, 'int x;\n'), (e: Error & { field?: string }) => e.field === 'code');
});

test('duplicates report lists blocks found in several projects', async () => {
  // The same function, re-indented and renamed, inside otherwise different files of two projects.
  const fn = (name: string, v: string) => `function ${name}(${v}, limit) {
  let total = 0;
  for (let i = 0; i < ${v}.length; i++) {
    if (${v}[i] > limit) continue;
    total += ${v}[i] * 2;
    if (total > 1000) { total = 1000; break; }
  }
  const rounded = Math.round(total * 100) / 100;
  return rounded >= 0 ? rounded : -rounded;
}
`;
  const one = makeRepo({ 'src/stats.js': `// first project\nexport const version = 1;\n\n${fn('sumUnder', 'values')}\nexport default sumUnder;\n` });
  const two = makeRepo({ 'lib/helpers/total.js': `'use strict';\nconst other = require('x');\n\n${fn('totalBelow', 'items').replace(/\n {2}/g, '\n    ')}\nmodule.exports = { totalBelow, other };\n` });
  await addRepository(ctx, one, { slug: 'dup-one' });
  await indexRepository(ctx, 'dup-one', { worker: false });
  await addRepository(ctx, two, { slug: 'dup-two' });
  await indexRepository(ctx, 'dup-two', { worker: false });
  const groups = await duplicates(ctx);
  const g = groups.find((x) => x.repositories.includes('dup-one') && x.repositories.includes('dup-two'));
  assert.ok(g, JSON.stringify(groups.map((x) => x.repositories)));
  const a = g.places.find((p) => p.repository === 'dup-one')!;
  const b = g.places.find((p) => p.repository === 'dup-two')!;
  assert.equal(a.path, 'src/stats.js');
  assert.equal(b.path, 'lib/helpers/total.js');
  // The shared region lies within the function in both files.
  assert.ok(a.lines[0] >= 4 && a.lines[1] <= 13, JSON.stringify(a.lines));
  assert.ok(b.lines[0] >= 4 && b.lines[1] <= 13, JSON.stringify(b.lines));
  assert.ok(g.sharedFingerprints >= 4);
});

test('a repository that vanishes mid-index gives a clear error and leaves the index unchanged', async () => {
  const dir = makeRepo({ 'x.c': 'int vanishing_marker;\n', 'y.c': 'int y;\n' });
  await addRepository(ctx, dir, { slug: 'vanishing' });
  const before = (await searcher(ctx)).documentCount;
  await assert.rejects(
    () =>
      indexRepository(ctx, 'vanishing', {
        worker: false,
        beforeRead: (gitDir) => fs.rmSync(gitDir, { recursive: true, force: true }),
      }),
    (e: Error & { code?: string }) => e.code === 'repository_vanished' && /disparu/.test(e.message),
  );
  assert.equal((await searcher(ctx)).documentCount, before);
  assert.equal((await search(ctx, 'vanishing_marker')).fileCount, 0);
  const { repositories } = await getSoftware(ctx, 'vanishing');
  assert.equal(repositories[0]!.status, 'failed');
  // A source path that no longer exists.
  fs.rmSync(dir, { recursive: true, force: true });
  await assert.rejects(() => indexRepository(ctx, 'vanishing', { worker: false }), /introuvable/);
  void tmpDir;
});
