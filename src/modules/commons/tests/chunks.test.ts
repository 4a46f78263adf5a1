/**
 * The chunked index (postings per chunk of about 4 KB of whole lines) and the fast build paths:
 * matches in any chunk of a large file are found with their exact line numbers and context lines
 * read across chunk boundaries; terms in different chunks of one file still combine; the indexing
 * tokenizer on bytes gives the fingerprints of the reference tokenizer; large builds are split.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { addRepository, indexRepository, search, searcher } from '../service.ts';
import { fingerprintsOfBytes, kgramHashes, tokenize, winnow } from '../engine/blocks.ts';
import { CHUNK_BYTES, ShardReader } from '../engine/shard.ts';
import { readLines } from '../engine/searcher.ts';
import { makeRepo, testContext } from './helpers.ts';

let ctx: Awaited<ReturnType<typeof testContext>>;
before(async () => {
  ctx = await testContext();
});
after(async () => {
  await ctx.close();
});

/** A large C file: 3000 numbered lines, markers at known lines (some right at chunk starts). */
function bigFile(markers: Map<number, string>): string {
  const lines: string[] = [];
  for (let i = 1; i <= 3000; i++) lines.push(markers.get(i) ?? `\tfiller_call_${i % 97}(dev, ${i}); /* é ${i} */`);
  return lines.join('\n') + '\n';
}

test('chunked postings: every match of a large file, exact lines, context across chunk boundaries', async () => {
  const markers = new Map<number, string>([
    [1, 'int alpha_marker_first;'],
    [1500, '\tchunk_mid_marker(dev); chunk_mid_marker(dev);'],
    [2999, 'int omega_marker_last; /* naïve */'],
    [3000, 'int beta_marker_other_term;'],
  ]);
  const dir = makeRepo({ 'big.c': bigFile(markers), 'small.c': 'int alpha_marker_first;\n' });
  const added = await addRepository(ctx, dir, { name: 'Chunks' });
  const slug = added.software.slug;
  await indexRepository(ctx, slug, { worker: false });

  const s = await searcher(ctx);
  const reader = s.shards.map((x) => x.reader).find((r) => r.docs === 2)!;
  const big = reader.lengths[0]! > reader.lengths[1]! ? 0 : 1;
  const chunks = reader.docFirstChunk[big + 1]! - reader.docFirstChunk[big]!;
  assert.ok(chunks > 10, `a ${reader.lengths[big]} byte file is split into chunks (${chunks})`);
  // Chunks are whole lines of about CHUNK_BYTES, and their first lines are right.
  for (let k = reader.docFirstChunk[big]!; k < reader.docFirstChunk[big + 1]!; k++) {
    const bytes = reader.rangeShared(reader.chunkOff[k]!, reader.chunkEnd(k));
    assert.ok(bytes.length < CHUNK_BYTES + 200, 'chunk size');
    if (k > reader.docFirstChunk[big]!) assert.equal(reader.rangeShared(reader.chunkOff[k]! - 1, reader.chunkOff[k]!)[0], 10, 'a chunk starts a line');
    const first = readLines(reader, big, [reader.chunkLine[k]!]).get(reader.chunkLine[k]!)!;
    assert.equal(bytes.toString('utf8').split('\n')[0], first);
  }
  // The table of line starts (shard version 3 and later) gives every byte's line and line start, as
  // counting newlines does.
  assert.equal(reader.version, 4);
  {
    const off = reader.offsets[big]!;
    const text = reader.rangeShared(off, off + reader.lengths[big]!).toString('latin1');
    let k = reader.docFirstChunk[big]!;
    let line = 1;
    let start = 0;
    for (let i = 0; i < text.length; i += 37) {
      for (let j = text.indexOf('\n', start); j >= 0 && j < i; j = text.indexOf('\n', start)) {
        start = j + 1;
        line++;
      }
      while (k + 1 < reader.docFirstChunk[big + 1]! && reader.chunkOff[k + 1]! <= off + i) k++;
      assert.deepEqual([reader.lineAt(k, off + i), reader.lastLineStart], [line, off + start], `byte ${i}`);
    }
  }

  const lines = async (q: string, context = 0) => {
    const r = await search(ctx, `${q} repo:${slug}`, { context, maxLinesPerFile: Infinity });
    return r.groups.flatMap((g) => g.files.filter((f) => f.path === 'big.c').flatMap((f) => f.lines.map((l) => [l.line, l.context, l.text, l.ranges] as const)));
  };
  assert.deepEqual((await lines('alpha_marker_first')).map((l) => l[0]), [1]);
  assert.deepEqual((await lines('omega_marker_last')).map((l) => l[0]), [2999]);
  const mid = await lines('chunk_mid_marker');
  assert.deepEqual(mid.map((l) => l[0]), [1500]);
  assert.deepEqual(mid[0]![3], [
    [1, 17],
    [24, 40],
  ]);
  // Context lines come from the neighbouring chunks when a match is at a chunk's edge.
  for (let k = reader.docFirstChunk[big]! + 1; k < reader.docFirstChunk[big]! + 4; k++) {
    const ln = reader.chunkLine[k]!;
    const term = `filler_call_${ln % 97}(dev, ${ln});`;
    const got = await lines(`"${term}"`, 1);
    assert.deepEqual(got.map((l) => [l[0], l[1]]), [
      [ln - 1, true],
      [ln, false],
      [ln + 1, true],
    ]);
    assert.match(got[0]![2], new RegExp(`filler_call_${(ln - 1) % 97}\\(dev, ${ln - 1}\\)`));
  }
  // Two terms in far apart chunks of the same file: the file matches, both lines are shown.
  assert.deepEqual((await lines('alpha_marker_first beta_marker_other_term')).map((l) => l[0]), [1, 3000]);
  // Regexes per line, anchored, with non-ASCII text before the match (UTF-16 ranges).
  const re = await lines('/^int omega_\\w+;/');
  assert.deepEqual(re.map((l) => [l[0], l[3]]), [[2999, [[0, 22]]]]);
  const uni = await lines('"naïve"');
  assert.deepEqual(uni.map((l) => [l[0], l[3]]), [[2999, [[26, 31]]]]);
  const accent = await lines('"é 2000 */"');
  assert.equal(accent[0]![0], 2000);
  assert.equal(accent[0]![2].slice(accent[0]![3][0]![0], accent[0]![3][0]![1]), 'é 2000 */');
  // Every filler line of one kind: as many lines as a plain scan finds.
  const all = await lines('filler_call_5(');
  const expected = bigFile(markers)
    .split('\n')
    .map((l, i) => [i + 1, l] as const)
    .filter(([, l]) => l.includes('filler_call_5('));
  assert.deepEqual(all.map((l) => l[0]), expected.map(([n]) => n));
  // Negation is checked in every chunk of the file.
  const neg = await search(ctx, `alpha_marker_first -omega_marker_last repo:${slug}`);
  assert.deepEqual(neg.groups.flatMap((g) => g.files.map((f) => f.path)), ['small.c']);
});

test('indexing tokenizer on bytes gives the reference fingerprints and lines', () => {
  const samples: [string, string | null][] = [
    ['static int foo(int a) {\n  /* c\nomment */ return a + 1; // x\n}\nchar *s = "str\\"ing";\n'.repeat(20), 'c'],
    ['def f(x):\n    # comment\n    return "é" + `x` + \'y\'\n'.repeat(30), 'python'],
    ['const naïve = `multi\nline ${x}`;\nif (a) { b(); } else { for (;;) break; }\n'.repeat(25), 'javascript'],
    ['x'.repeat(5), null],
    ['"unterminated\n/* open comment', 'c'],
    // Quotes left open (in regex literals, prose) and strings continued over a line.
    ["const re = /[A-Z'()*+]$/u;\nconst s = \"a\\\nb\";\nit's prose\nfunction f(a, b) { return a + b; }\n".repeat(12), 'javascript'],
  ];
  for (const [text, lang] of samples) {
    const tokens = tokenize(text, lang);
    const expected = winnow(kgramHashes(tokens)).map((f) => [f.hash, tokens[f.pos]!.line]);
    const got: number[][] = [];
    fingerprintsOfBytes(Buffer.from(text, 'utf8'), lang, (h, l) => got.push([h, l]));
    assert.deepEqual(got, expected, `${lang}: ${text.slice(0, 20)}`);
  }
  // Every token's line is its line in the text: a quote left open does not swallow the newline.
  const text = samples[5]![0];
  for (const t of tokenize(text, 'javascript')) {
    if (t.norm !== 'S') assert.equal(text.split('\n')[t.line - 1]!.includes(t.text), true, `${t.text} on line ${t.line}`);
  }
  assert.equal(tokenize(text, 'javascript').at(-1)!.line, text.split('\n').length - 1);
});

test('shard readers of version 1 (postings per document) are still searched', () => {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'commons-v1-'));
  // docs.bin of version 1: 32 bytes per document, no chunks.bin; postings name documents.
  const content = Buffer.from('first line\nsecond line\n');
  fs.writeFileSync(path.join(dir, 'content.bin'), content);
  const docs = Buffer.alloc(32);
  docs.writeUInt32LE(0, 20);
  docs.writeUInt32LE(content.length, 24);
  docs.writeUInt32LE(2, 28);
  fs.writeFileSync(path.join(dir, 'docs.bin'), docs);
  fs.writeFileSync(path.join(dir, 'tri.bin'), Buffer.alloc(0));
  fs.writeFileSync(path.join(dir, 'post.bin'), Buffer.alloc(0));
  fs.writeFileSync(path.join(dir, 'fp.bin'), Buffer.alloc(0));
  fs.writeFileSync(path.join(dir, 'symbols.json'), '[]');
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ version: 1, docs: 1, bytes: content.length }));
  const r = new ShardReader(dir);
  assert.equal(r.chunks, 1);
  assert.equal(r.chunkEnd(0), content.length);
  assert.deepEqual([...readLines(r, 0, [1, 2])], [
    [1, 'first line'],
    [2, 'second line'],
  ]);
  r.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
