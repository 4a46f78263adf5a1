/**
 * Arabic in the attestation PDF (rtl.ts): the bidi order of a right-to-left line (runs reversed,
 * Latin names and numbers kept left to right, mirrored brackets and guillemets, 12:30 one number),
 * and the PDF: Noto Sans Arabic embedded, its ToUnicode map naming Arabic letters, the words of a
 * line drawn from right to left. (Looked at, rendered with pdftoppm, when it was written.)
 */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { test } from 'node:test';
import PDFDocument from 'pdfkit';
import { RTL_FONTS, bidiLevels, registerArabicFonts, rtlParagraph, visualSegments } from '../rtl.ts';

const latinHas = (_f: string, c: string) => c.codePointAt(0)! < 0x250;
const texts = (line: string) => visualSegments(line, latinHas).map((s) => s.text);

test('bidi: a right-to-left line is drawn from its end; Latin names stay left to right; brackets and guillemets mirrored', () => {
  // Logical: « I authorise the helpers of «France Services» (two words) ».
  assert.deepEqual(texts('تأذن لمساعدي «\u2068France Services\u2069» (كلمتان)'), ['(', 'كلمتان', ')', ' ', '«', 'France Services', '»', ' ', 'لمساعدي', ' ', 'تأذن']);
  // Numbers: left to right, a separator between digits belongs to them (12:30 is not 30:12).
  assert.deepEqual(texts('حتى 6 يونيو 2027 في 12:30 م.'), ['.', 'م', ' ', '12:30', ' ', 'في', ' ', '2027', ' ', 'يونيو', ' ', '6', ' ', 'حتى']);
  // An isolate whose first strong letter is Arabic is read as the surrounding text.
  assert.deepEqual(bidiLevels('أ \u2068ب\u2069').levels, [1, 1, 1]);
  // Two Latin words: the space between them is left to right too (N1); next to Arabic, right to left (N2).
  assert.deepEqual(bidiLevels('ab cd ت').levels, [2, 2, 2, 2, 2, 1, 1]);
  // Arabic goes to the Arabic font (with the spaces between its words), the rest to the Latin subsets.
  const segs = visualSegments('السكن: Dieppe', latinHas);
  assert.deepEqual(segs.map((s) => [s.text, s.font]), [['Dieppe', RTL_FONTS.latin], [' ', RTL_FONTS.arabic], [':', RTL_FONTS.latin], ['السكن', RTL_FONTS.arabic]]);
});

test('the PDF embeds Noto Sans Arabic; its words are shaped glyphs mapped back to Arabic letters; a line is drawn right to left', async () => {
  const doc = new PDFDocument({ size: 'A4', margin: 56, compress: false });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve) => doc.on('end', () => resolve(Buffer.concat(chunks))));
  registerArabicFonts(doc);
  rtlParagraph(doc, 'تأذن لمساعدي الهيكل «\u2068France Services Dieppe\u2069» بالقيام نيابةً عنك', { size: 12 });
  doc.end();
  const pdf = (await done).toString('latin1');
  assert.match(pdf, /\/BaseFont \/[A-Z]{6}\+NotoSansArabic/);
  // ToUnicode: glyphs back to letters (copy, search, screen readers), inflated if compressed.
  const streams = [...pdf.matchAll(/stream\r?\n([\s\S]*?)\r?\nendstream/g)].map((m) => {
    try {
      return zlib.inflateSync(Buffer.from(m[1]!, 'latin1')).toString('latin1');
    } catch {
      return m[1]!;
    }
  });
  const cmap = streams.find((s) => /begincmap/.test(s) && /<0627>|<0644>/i.test(s));
  assert.ok(cmap, 'a ToUnicode map names Arabic letters');
  // Text positions in drawing order: x grows, and the first word drawn (leftmost) is the last one written.
  // (the first Tm of each BT…ET: pdfkit positions some glyphs — marks, kerning — with more Tm inside one text object).
  const xs = streams.join('\n').split(/\bBT\b/).slice(1).map((bt) => /1 0 0 -?1 ([\d.]+) ([\d.]+) Tm/.exec(bt)).filter((m) => m).map((m) => Number(m![1]));
  assert.ok(xs.length >= 9, `one text object per segment (${xs.length}): ${xs.join(' ')}`);
  for (let i = 1; i < xs.length; i++) assert.ok(xs[i]! > xs[i - 1]!, `segments drawn left to right on the page, in visual order: ${xs.join(' ')}`);
});
