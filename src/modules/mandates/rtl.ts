/**
 * Arabic in the attestation PDF. The standard PDF fonts have no Arabic glyphs, and pdfkit lays text
 * out left to right in the order it is written: it does no bidi. So:
 *
 * - the font: Noto Sans Arabic (`@fontsource/noto-sans-arabic`, OFL-1.1), its `arabic` subset for
 *   Arabic letters (and spaces between them), its `latin` and `latin-ext` subsets for the rest
 *   (digits, punctuation, a structure's Latin name), embedded by pdfkit (fontkit reads WOFF);
 * - the shaping (initial, medial, final and isolated forms, the lam-alef ligature): fontkit's Arabic
 *   shaper, given each Arabic word in LOGICAL order, returns its glyphs shaped and in visual order
 *   (pdfkit places the words of one string left to right, so each word is drawn on its own);
 * - the order: `visualSegments` applies the Unicode bidi algorithm's rules that this text needs —
 *   a right-to-left paragraph (level 1); Arabic letters R; Latin letters L and European digits at
 *   level 2 (a separator between two digits is part of the number: W4); neutrals between two strong characters of the same direction take it (digits count as
 *   R there, rule N1), else the paragraph's (N2); a first-strong isolate (FSI…PDI, translations.ts
 *   wraps names and dates in them) whose first strong character is Latin is one left-to-right unit,
 *   neutral to what surrounds it; then runs are reversed (rule L2) and mirrored characters of
 *   right-to-left runs swapped (« », ( ), [ ]: rule L4);
 * - the lines: words are wrapped in logical order to the width, then each line is reordered and
 *   drawn right-aligned, segment by segment, each in its font.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const file = (subset: string) => require.resolve(`@fontsource/noto-sans-arabic/files/noto-sans-arabic-${subset}-400-normal.woff`);

export const RTL_FONTS = { arabic: 'NotoSansArabic', latin: 'NotoSansArabicLatin', latinExt: 'NotoSansArabicLatinExt' } as const;

/** Registers the three subsets on a pdfkit document (fontkit reads them once per document). */
export function registerArabicFonts(doc: PDFKit.PDFDocument): void {
  doc.registerFont(RTL_FONTS.arabic, file('arabic'));
  doc.registerFont(RTL_FONTS.latin, file('latin'));
  doc.registerFont(RTL_FONTS.latinExt, file('latin-ext'));
}

const FSI = '\u2068';
const PDI = '\u2069';
const isArabic = (c: string) => /[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]/u.test(c);
const isLatinLetter = (c: string) => /\p{L}/u.test(c) && !isArabic(c);
const isDigit = (c: string) => /[0-9]/.test(c);
const MIRROR: Record<string, string> = { '(': ')', ')': '(', '[': ']', ']': '[', '{': '}', '}': '{', '«': '»', '»': '«', '<': '>', '>': '<', '‹': '›', '›': '‹' };

export interface Segment {
  /** The text to hand to pdfkit, in the order it must be drawn (Arabic runs in logical order: fontkit reverses them). */
  text: string;
  font: string;
  rtl: boolean;
}

/** The bidi level of each character (1: right to left, 2: left to right) of a right-to-left paragraph; FSI/PDI removed. */
export function bidiLevels(text: string): { chars: string[]; levels: number[] } {
  const chars: string[] = [];
  const levels: number[] = [];
  // Direction classes outside isolates: 'R', 'L', 'EN', 'N', 'ISO' (an LTR isolate: neutral outside, level 2 inside).
  const kinds: ('R' | 'L' | 'EN' | 'N' | 'ISO')[] = [];
  const all = [...text];
  for (let i = 0; i < all.length; i++) {
    const c = all[i]!;
    if (c === FSI) {
      let j = i + 1;
      while (j < all.length && all[j] !== PDI) j++;
      const inner = all.slice(i + 1, j);
      const firstStrong = inner.find((x) => isArabic(x) || isLatinLetter(x));
      if (firstStrong && isLatinLetter(firstStrong)) {
        for (const x of inner) {
          chars.push(x);
          kinds.push('ISO');
        }
        i = j;
        continue;
      }
      continue; // a right-to-left (or empty) isolate: its content is read as the surrounding text
    }
    if (c === PDI) continue;
    chars.push(c);
    kinds.push(isArabic(c) ? 'R' : isLatinLetter(c) ? 'L' : isDigit(c) ? 'EN' : 'N');
  }
  // Rule W4: one separator between two digits belongs to the number (12:30, 1.5, 3,2).
  for (let k = 1; k + 1 < kinds.length; k++) if (kinds[k] === 'N' && /[.,:/]/.test(chars[k]!) && kinds[k - 1] === 'EN' && kinds[k + 1] === 'EN') kinds[k] = 'EN';
  const strongAt = (k: number, step: number): 'R' | 'L' | null => {
    for (let m = k; m >= 0 && m < kinds.length; m += step) {
      const t = kinds[m];
      if (t === 'R' || t === 'EN') return 'R';
      if (t === 'L') return 'L';
    }
    return null;
  };
  for (let k = 0; k < chars.length; k++) {
    const t = kinds[k];
    if (t === 'R') levels.push(1);
    else if (t === 'L' || t === 'EN' || t === 'ISO') levels.push(2);
    else levels.push(strongAt(k - 1, -1) === 'L' && strongAt(k + 1, 1) === 'L' ? 2 : 1);
  }
  return { chars, levels };
}

/** The fonts that have a glyph for a character (the caller's check), by preference. */
export type HasGlyph = (font: string, c: string) => boolean;

function fontFor(c: string, rtl: boolean, has: HasGlyph): string {
  if (isArabic(c) || (rtl && c === ' ')) return RTL_FONTS.arabic;
  if (has(RTL_FONTS.latin, c)) return RTL_FONTS.latin;
  if (has(RTL_FONTS.latinExt, c)) return RTL_FONTS.latinExt;
  return RTL_FONTS.latin; // drawn as .notdef: never in this module's text (names come through translations' isolates in Latin)
}

/** One line of a right-to-left paragraph as segments in drawing order (left to right on the page). */
export function visualSegments(line: string, has: HasGlyph): Segment[] {
  const { chars, levels } = bidiLevels(line);
  // Runs of one level, logical order.
  const runs: { level: number; chars: string[] }[] = [];
  chars.forEach((c, i) => {
    const last = runs.at(-1);
    if (last && last.level === levels[i]) last.chars.push(c);
    else runs.push({ level: levels[i]!, chars: [c] });
  });
  const out: Segment[] = [];
  // Rule L2 for two levels: the runs in reverse order; a level-1 run reversed inside, a level-2 run kept.
  for (const run of runs.reverse()) {
    const rtl = run.level === 1;
    // Sub-runs by font, logical order.
    const subs: { font: string; chars: string[] }[] = [];
    for (const c of run.chars) {
      const font = fontFor(c, rtl, has);
      const last = subs.at(-1);
      if (last && last.font === font) last.chars.push(c);
      else subs.push({ font, chars: [c] });
    }
    if (!rtl) {
      for (const s of subs) out.push({ text: s.chars.join(''), font: s.font, rtl: false });
      continue;
    }
    for (const s of subs.reverse()) {
      if (s.font === RTL_FONTS.arabic) {
        // One segment per word, words in reverse order: pdfkit places the words of one string left to
        // right; fontkit shapes each word (logical order in) and returns its glyphs right to left.
        for (const w of s.chars.join('').split(/( )/).reverse()) if (w) out.push({ text: w, font: s.font, rtl: true });
      } else out.push({ text: s.chars.reverse().map((c) => MIRROR[c] ?? c).join(''), font: s.font, rtl: true });
    }
  }
  return out;
}

/**
 * Draws a right-to-left paragraph at the document's current position, right-aligned within the
 * margins: words wrapped in logical order, each line reordered (visualSegments) and drawn segment
 * by segment. Leaves doc.y under the paragraph.
 */
export function rtlParagraph(doc: PDFKit.PDFDocument, text: string, o: { size?: number; gap?: number } = {}): void {
  const size = o.size ?? 11;
  const left = doc.page.margins.left;
  const right = doc.page.width - doc.page.margins.right;
  const width = right - left;
  const lineHeight = size * 1.9;
  const glyphs = new Map<string, { hasGlyphForCodePoint(cp: number): boolean }>();
  const has: HasGlyph = (font, c) => {
    if (!glyphs.has(font)) {
      doc.font(font);
      glyphs.set(font, (doc as unknown as { _font: { font: { hasGlyphForCodePoint(cp: number): boolean } } })._font.font);
    }
    return glyphs.get(font)!.hasGlyphForCodePoint(c.codePointAt(0)!);
  };
  const measure = (segs: Segment[]) => segs.reduce((w, s) => w + doc.font(s.font).fontSize(size).widthOfString(s.text), 0);
  const words = text.split(' ');
  const lines: string[] = [];
  let current = '';
  for (const w of words) {
    const candidate = current ? `${current} ${w}` : w;
    if (current && measure(visualSegments(candidate, has)) > width) {
      lines.push(current);
      current = w;
    } else current = candidate;
  }
  if (current) lines.push(current);
  let y = doc.y;
  for (const line of lines) {
    if (y + lineHeight > doc.page.height - doc.page.margins.bottom) {
      doc.addPage();
      y = doc.page.margins.top;
    }
    const segs = visualSegments(line, has);
    let x = right - measure(segs);
    for (const s of segs) {
      doc.font(s.font).fontSize(size).text(s.text, x, y, { lineBreak: false });
      x += doc.widthOfString(s.text);
    }
    y += lineHeight;
  }
  doc.x = left;
  doc.y = y + size * (o.gap ?? 0.3);
}
