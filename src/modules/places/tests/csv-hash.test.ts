/**
 * The tokenizer's record hashing (used by a re-import to skip the records it wrote before without
 * parsing them): a record offered to `known` and skipped has exactly the lines and the hash it has
 * when parsed, whatever the file holds (quoted line breaks, doubled quotes, CRLF, lone CR, quotes
 * inside unquoted fields, malformed quoting, blank lines) and wherever the chunks are cut.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { CsvTokenizer, readPlaces, type CsvEvent } from '../model/index.ts';
import { HEADER, csvLine } from './helpers.ts';

const hashText = (text: string) => crypto.hash('sha256', text, 'base64url');

/** Events of a text pushed in the given chunks, with hashing on when `known` is given. */
function events(chunks: string[], known?: (hash: string) => boolean): CsvEvent[] {
  const tok = new CsvTokenizer(',', 200);
  if (known) tok.hashRecords(hashText, known);
  const out: CsvEvent[] = [];
  for (const c of chunks) {
    tok.push(c);
    out.push(...tok.drain());
  }
  tok.end();
  out.push(...tok.drain());
  return out;
}

/** A deterministic pseudo-random generator (the failures must be reproducible). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const PIECES = ['a', 'bé', ' ', ',', '"', '""', '\n', '\r\n', '\r', 'x"y', '€', 'ligne', ''];
function randomCsv(r: () => number): string {
  const lines: string[] = [];
  const n = 1 + Math.floor(r() * 12);
  for (let i = 0; i < n; i++) {
    const fields: string[] = [];
    const m = 1 + Math.floor(r() * 4);
    for (let j = 0; j < m; j++) {
      let f = '';
      const k = Math.floor(r() * 4);
      for (let x = 0; x < k; x++) f += PIECES[Math.floor(r() * PIECES.length)];
      // Mostly well-formed: quoted fields with doubled quotes; sometimes anything.
      if (r() < 0.5) f = `"${f.replace(/"/g, '""')}"${r() < 0.1 ? ' ' : ''}`;
      else if (r() < 0.3) f = f.replace(/[\r\n,"]/g, '');
      fields.push(f);
    }
    if (r() < 0.05) fields.push('x'.repeat(250)); // over the 200-character limit
    lines.push(fields.join(','));
  }
  const breaks = ['\n', '\r\n', '\n', '\r'];
  return lines.map((l) => l + breaks[Math.floor(r() * breaks.length)]).join('').slice(0, r() < 0.2 ? -1 : undefined);
}

function cut(text: string, r: () => number): string[] {
  const chunks: string[] = [];
  let i = 0;
  while (i < text.length) {
    const len = 1 + Math.floor(r() * 40);
    chunks.push(text.slice(i, i + len));
    i += len;
  }
  return chunks;
}

const shape = (evs: CsvEvent[]) => evs.map((e) => `${e.kind === 'known' ? 'record' : e.kind}:${e.line}-${e.endLine}`);

describe('CSV record hashing', () => {
  test('skipped records keep the lines and the hash they have when parsed, on 3,000 random files cut anywhere', () => {
    const r = rng(14);
    let skipped = 0;
    for (let k = 0; k < 3000; k++) {
      const text = randomCsv(r);
      const whole = events([text]);
      const hashed = events(cut(text, r), () => false);
      const all = events(cut(text, r), () => true);
      assert.deepEqual(shape(hashed), shape(whole), `same events with hashing on: ${JSON.stringify(text)}`);
      assert.deepEqual(shape(all), shape(whole), `same lines when every scannable record is skipped: ${JSON.stringify(text)}`);
      for (let i = 0; i < whole.length; i++) {
        const w = whole[i]!;
        const h = hashed[i]!;
        const a = all[i]!;
        if (w.kind === 'record') {
          assert.equal(h.kind, 'record');
          // Parsed, the record's hash is that of its text; skipped, the same hash.
          assert.ok((h as { hash?: string }).hash, 'a parsed record carries its hash');
          if (a.kind === 'known') {
            skipped++;
            assert.equal(a.hash, (h as { hash?: string }).hash, `same hash skipped or parsed: ${JSON.stringify(text)}`);
          } else assert.deepEqual(a, h);
        } else assert.deepEqual(a, w, 'problems are reported the same way');
      }
    }
    assert.ok(skipped > 3000, `most well-formed records are skipped (${skipped})`);
  });

  test('a record’s hash is that of its text, line break excluded', () => {
    const text = 'id,nom\r\n"a,b","c\n""d"""\nx,"y"\r\n"z" ,w\r\nu,"v\r\nw"\r\nlast,"one"';
    const expected = ['id,nom', '"a,b","c\n""d"""', 'x,"y"', '"z" ,w', 'u,"v\r\nw"', 'last,"one"'].map(hashText);
    assert.deepEqual(events([text], () => false).map((e) => (e as { hash?: string }).hash), expected);
    assert.deepEqual(events([text]).map((e) => (e as { hash?: string }).hash), expected.map(() => undefined), 'no hash unless asked');
    const skipped = events([text], () => true);
    assert.deepEqual(
      skipped.map((e) => e.kind),
      ['known', 'known', 'known', 'record', 'record', 'record'],
      'spaces after a closing quote, a quoted CR and a last line without a break are left to the parser',
    );
    assert.deepEqual(skipped.map((e) => (e as { hash?: string }).hash), expected);
  });

  test('long lines full of quotes are scanned in linear time', () => {
    // Quadratic searches would take minutes here (the test runner's timeout stops them).
    const text = `${'"a",b"c,'.repeat(200_000)}\n${'x'.repeat(2_000_000)}\n`;
    const tok = new CsvTokenizer(',', 10_000_000);
    tok.hashRecords(hashText, () => true);
    for (let i = 0; i < text.length; i += 1 << 16) {
      tok.push(text.slice(i, i + (1 << 16)));
      for (const _ of tok.drain());
    }
    tok.end();
    const rest = [...tok.drain()];
    assert.equal(tok.currentLine, 3);
    assert.equal(rest.length, 0);
  });

  test('a file whose lines end with a lone CR (no line feed), streamed in small chunks, is read in linear time', { timeout: 120_000 }, async () => {
    // The reader keeps the bytes after a chunk's last line feed for the next chunk: in a file
    // without any, copying them again at every chunk was quadratic (minutes here, cold).
    const lines = [HEADER];
    for (let i = 0; lines.length < 20_000; i++) lines.push(csvLine({ id: `cr${i}`, nom: `Lieu ${i}` }));
    const read = async (eol: string) => {
      const buf = Buffer.from(lines.join(eol) + eol);
      assert.ok(buf.length > 3_000_000 && buf.length < 4 << 20, `${buf.length} bytes`);
      const started = performance.now();
      const reading = await readPlaces(Readable.from((function* () { for (let i = 0; i < buf.length; i += 32) yield buf.subarray(i, i + 32); })()));
      let rows = 0;
      for await (const _ of reading.rows) rows++;
      assert.equal(rows, 19_999);
      return performance.now() - started;
    };
    const lf = await read('\n');
    const cr = await read('\r');
    assert.ok(cr < 5 * lf + 1000, `lone CR: ${Math.round(cr)} ms, LF: ${Math.round(lf)} ms`);
  });
});
