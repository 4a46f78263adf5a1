import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { contentHash, directoryHash, formatSwhid, parseSwhid, revisionHash, type TreeEntry } from '../swhid.ts';
import { gitIn, makeRepo } from './helpers.ts';

test('swh:1:cnt equals git hash-object, for text, empty and binary contents', () => {
  const dir = makeRepo({ 'a.txt': 'hello\n', 'empty': '', 'bin.dat': Buffer.from([0, 1, 2, 255, 10, 0]) });
  for (const f of ['a.txt', 'empty', 'bin.dat']) {
    const bytes = fs.readFileSync(path.join(dir, f));
    assert.equal(contentHash(bytes), gitIn(dir, 'hash-object', f), f);
  }
  // The SWHID specification's own example: the content "hello\n"? No — git's well-known empty blob.
  assert.equal(contentHash(''), 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391');
});

test('swh:1:dir equals the git tree hash, with git ordering, modes, symlinks and submodules', () => {
  const dir = makeRepo({ 'b.c': 'int b;\n', 'a/x.js': 'x\n', 'a.b': 'dot\n', 'run.sh': '#!/bin/sh\necho\n' });
  fs.chmodSync(path.join(dir, 'run.sh'), 0o755);
  fs.symlinkSync('b.c', path.join(dir, 'link'));
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-q', '-m', 'more');
  // A submodule entry (gitlink) pointing at some commit.
  const sub = makeRepo({ 'readme': 'sub\n' });
  gitIn(dir, 'submodule', 'add', '-q', sub, 'vendor/sub');
  gitIn(dir, 'commit', '-q', '-m', 'submodule');
  // Rebuild every tree bottom-up from `git ls-tree` entries and compare with git's hashes.
  const hashTree = (treeish: string): string => {
    const out = gitIn(dir, 'ls-tree', treeish);
    const entries: TreeEntry[] = out.split('\n').filter(Boolean).map((line) => {
      const [meta, name] = line.split('\t') as [string, string];
      const [mode, type, sha] = meta.split(' ') as [string, string, string];
      const kind = type === 'tree' ? 'dir' : type === 'commit' ? 'submodule' : mode === '120000' ? 'symlink' : mode === '100755' ? 'executable' : 'file';
      const hash = kind === 'dir' ? hashTree(sha) : sha;
      assert.equal(hash, sha);
      return { name, kind, hash };
    });
    return directoryHash(entries);
  };
  const root = gitIn(dir, 'rev-parse', 'HEAD^{tree}');
  assert.equal(hashTree(root), root);
  assert.equal(hashTree('HEAD:a'), gitIn(dir, 'rev-parse', 'HEAD:a'));
});

test('swh:1:rev equals the git commit hash', () => {
  const dir = makeRepo({ 'f': 'one\n' });
  gitIn(dir, 'commit', '-q', '--allow-empty', '-m', 'second\n\nwith a body');
  for (const rev of ['HEAD~1', 'HEAD']) {
    const raw = gitIn(dir, 'cat-file', 'commit', rev) + '\n';
    const [headers, ...rest] = raw.split('\n\n');
    const h = Object.fromEntries(headers!.split('\n').map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
    const person = (s: string) => {
      const m = /^(.*) <(.*)> (\d+) ([+-]\d{4})$/.exec(s)!;
      return { name: m[1]!, email: m[2]!, timestamp: Number(m[3]), offset: m[4]! };
    };
    const parents = headers!.split('\n').filter((l) => l.startsWith('parent ')).map((l) => l.slice(7));
    const hash = revisionHash({ tree: h.tree!, parents, author: person(h.author!), committer: person(h.committer!), message: rest.join('\n\n') });
    assert.equal(hash, gitIn(dir, 'rev-parse', rev));
  }
});

test('qualifiers follow the specification order and escaping, and parse back', () => {
  const s = formatSwhid('cnt', '94a9ed024d3859793618152ea559a168bbcbb5e2', {
    origin: 'https://example.org/a;b.git',
    anchor: 'swh:1:rev:309cf2674ee7a0749978cf8265ab91a60aea0f7d',
    path: '/src/main file.c',
    lines: [9, 15],
  });
  assert.equal(
    s,
    'swh:1:cnt:94a9ed024d3859793618152ea559a168bbcbb5e2;origin=https://example.org/a%3Bb.git;anchor=swh:1:rev:309cf2674ee7a0749978cf8265ab91a60aea0f7d;path=/src/main%20file.c;lines=9-15',
  );
  const p = parseSwhid(s);
  assert.equal(p.type, 'cnt');
  assert.equal(p.qualifiers.origin, 'https://example.org/a;b.git');
  assert.equal(p.qualifiers.path, '/src/main file.c');
  assert.deepEqual(p.qualifiers.lines, [9, 15]);
  assert.equal(formatSwhid('cnt', '94a9ed024d3859793618152ea559a168bbcbb5e2', { lines: 4 }), 'swh:1:cnt:94a9ed024d3859793618152ea559a168bbcbb5e2;lines=4');
  // ";", "#" and "%" in a value are percent-encoded (a "#" would cut the identifier in a resolver's URL).
  const odd = formatSwhid('cnt', '94a9ed024d3859793618152ea559a168bbcbb5e2', { path: '/a #1;b%c.c' });
  assert.equal(odd, 'swh:1:cnt:94a9ed024d3859793618152ea559a168bbcbb5e2;path=/a%20%231%3Bb%25c.c');
  assert.equal(parseSwhid(odd).qualifiers.path, '/a #1;b%c.c');
  assert.throws(() => parseSwhid('swh:1:cnt:XYZ'), /Invalid SWHID/);
  assert.throws(() => formatSwhid('cnt', 'abc'), /40 lower-case hex/);
});

test('tags are listed most recent first (by tag or commit date, not by name)', async () => {
  const { execFileSync } = await import('node:child_process');
  const { listRefs } = await import('../git.ts');
  const dir = makeRepo({ 'a.txt': 'a\n' });
  const at = (date: string, ...args: string[]) => execFileSync('git', args, { cwd: dir, env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.org', GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } });
  at('2024-01-01T00:00:00Z', 'tag', 'v2.0');
  at('2025-01-01T00:00:00Z', 'commit', '-q', '--allow-empty', '-m', 'later');
  at('2025-01-01T00:00:00Z', 'tag', 'a-old-name');
  at('2026-01-01T00:00:00Z', 'tag', '-a', '-m', 'annotated', 'gitgui-0.1');
  const tags = (await listRefs(path.join(dir, '.git'))).filter((r) => r.kind === 'tag').map((r) => r.name);
  assert.deepEqual(tags, ['gitgui-0.1', 'a-old-name', 'v2.0']);
  // The annotated tag's object: its hash is the release's SWHID (swh:1:rel); lightweight tags have none.
  const refs = await listRefs(path.join(dir, '.git'));
  assert.equal(refs.find((r) => r.name === 'gitgui-0.1')!.tagObject, execFileSync('git', ['rev-parse', 'gitgui-0.1'], { cwd: dir, encoding: 'utf8' }).trim());
  assert.equal(refs.find((r) => r.name === 'v2.0')!.tagObject, undefined);
});
