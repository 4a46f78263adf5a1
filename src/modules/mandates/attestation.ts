/**
 * The attestation's QR code and PDF, and the public verification page the QR code opens.
 * - QR code (`qrcode`): an SVG drawn from the code's modules in the HTML attestation, a PNG image in the PDF;
 *   it encodes `/mandats/verifier/<verify_id>?empreinte=<hash>` (verify_id: 256 random bits, not the reference).
 * - PDF (`pdfkit`, standard Helvetica: WinAnsi covers French accents, « », ’, œ; any other character is
 *   transliterated or replaced): the same text as the page to print, the salted hash and its template
 *   version, the QR code. The mandate's PDF with the revocation code exists only in the creation response.
 * - `/mandats/verifier/<verify_id>` (anyone, rate-limited): valid / expired / revoked, whether the stored
 *   attestation still matches its hash (rows altered since are detected) and whether the hash given
 *   (`empreinte`) is this mandate's; nothing personal (no name, no structure).
 */
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import { html, raw, type Raw } from '../../platform/html/html.ts';
import { ADMIN_PROCEDURES, isProcedure, plainWords } from './model.ts';
import * as service from './service.ts';
import { plainWordsArabic } from './translations.ts';
import { plainWordsEnglish } from './model.ts';
import { registerArabicFonts, rtlParagraph } from './rtl.ts';

export const VERIFY_ID = /^[0-9a-f]{64}$/;

/** The address the QR code opens: the public verification page, with the attestation's hash. */
export function verifyUrl(publicUrl: string, m: { verifyId: string; attestationHash: string }): string {
  return `${publicUrl}/mandats/verifier/${m.verifyId}?empreinte=${m.attestationHash}`;
}

/** The QR code as inline SVG (one path of dark modules; role img with a French label). */
export function qrSvg(text: string, label: string): Raw {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const n = qr.modules.size;
  const q = 4; // quiet zone
  let d = '';
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) if (qr.modules.get(y, x)) d += `M${x + q} ${y + q}h1v1h-1z`;
  }
  const size = n + 2 * q;
  return html`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="160" height="160" role="img" aria-label="${label}" shape-rendering="crispEdges"><rect width="${size}" height="${size}" fill="#fff"/><path d="${raw(d)}" fill="#000"/></svg>`;
}

// WinAnsi (the standard PDF fonts' encoding): Latin-1 plus these.
const WIN_ANSI_EXTRA = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ');
// Letters without a decomposition, and spaces and hyphens (French dates use narrow no-break spaces).
const TRANSLITERATE: Record<string, string> = { Ł: 'L', ł: 'l', Đ: 'D', đ: 'd', ı: 'i', Ħ: 'H', ħ: 'h', Ŧ: 'T', ŧ: 't', Ŀ: 'L', ŀ: 'l', '\u202f': '\u00a0', '\u2009': ' ', '\u2010': '-', '\u2011': '-' };
/** Text the standard fonts can draw: accents kept, other letters without their marks, the rest « ? ». */
export function winAnsi(s: string): string {
  let out = '';
  for (const ch of s.normalize('NFC')) {
    const c = ch.codePointAt(0)!;
    if (c === 0x2068 || c === 0x2069) continue;
    if ((c >= 0x20 && c < 0x7f) || (c >= 0xa0 && c <= 0xff) || WIN_ANSI_EXTRA.has(ch)) out += ch;
    else if (c === 0x0a) out += ch;
    else if (Object.hasOwn(TRANSLITERATE, ch)) out += TRANSLITERATE[ch];
    else {
      const base = ch.normalize('NFD').replace(/\p{M}/gu, '');
      out += [...base].every((b) => b.codePointAt(0)! >= 0x20 && b.codePointAt(0)! < 0x7f) && base ? base : '?';
    }
  }
  return out;
}

const fmt = (isoDate: string) => new Date(isoDate).toLocaleString('fr-FR', { dateStyle: 'long', timeStyle: 'short', timeZone: 'Europe/Paris' });
const procLabel = (p: string) => (isProcedure(p) ? ADMIN_PROCEDURES[p] : p);

export interface PdfOptions {
  publicUrl: string;
  /** The revocation code, only in the creation response (never stored in clear). */
  revocationCode?: string | null;
  /** false in tests (readable content streams). */
  compress?: boolean;
}

async function render(title: string, draw: (doc: PDFKit.PDFDocument) => Promise<void>, compress: boolean): Promise<Buffer> {
  const doc = new PDFDocument({ size: 'A4', margin: 56, compress, lang: 'fr-FR', displayTitle: true, info: { Title: title, Author: 'Maillage', Subject: title } });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  registerArabicFonts(doc);
  doc.font('Helvetica');
  await draw(doc);
  doc.end();
  return done;
}

const para = (doc: PDFKit.PDFDocument, text: string, o: { bold?: boolean; size?: number; gap?: number } = {}) => {
  doc.font(o.bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(o.size ?? 11).text(winAnsi(text), { align: 'left' });
  doc.moveDown(o.gap ?? 0.5);
};

async function qrBlock(doc: PDFKit.PDFDocument, url: string, hash: string, templateVersion: string) {
  const png = await QRCode.toBuffer(url, { errorCorrectionLevel: 'M', margin: 2, width: 240 });
  if (doc.y > doc.page.height - 260) doc.addPage();
  const y = doc.y;
  doc.image(png, doc.page.margins.left, y, { width: 120, height: 120 });
  doc.font('Helvetica').fontSize(10).text(winAnsi(`Vérifier ce mandat (valide, expiré ou révoqué) : scannez le code ou ouvrez ${url}`), doc.page.margins.left + 135, y, { width: doc.page.width - doc.page.margins.left - doc.page.margins.right - 135 });
  doc.x = doc.page.margins.left;
  doc.y = Math.max(doc.y, y + 125);
  para(doc, `Empreinte de l’attestation (SHA-256 salé, modèle ${templateVersion}) :`, { size: 9, gap: 0 });
  doc.font('Courier').fontSize(9).text(hash);
  doc.moveDown(0.5);
}

/** The mandate's attestation as a PDF. */
export async function attestationPdf(db: service.Db, m: service.Mandate, o: PdfOptions): Promise<Buffer> {
  const s = (await service.getStructure(db, m.structureId))!;
  const helperName = (await service.listHelpers(db, s.id)).find((h) => h.userId === m.createdBy)?.displayName ?? '';
  const title = `Attestation de mandat n° ${m.reference}`;
  return render(title, async (doc) => {
    para(doc, title, { bold: true, size: 18, gap: 0.8 });
    para(doc, `Mandat donné le ${fmt(m.createdAt)} à la structure « ${s.name} »${s.siret ? ` (SIRET ${s.siret})` : ''}, recueilli par ${helperName}.`);
    para(doc, m.person ? `Personne représentée : ${m.person.givenName} ${m.person.familyName}, née le ${new Date(`${m.person.birthDate}T12:00:00Z`).toLocaleDateString('fr-FR', { dateStyle: 'long' })}.` : 'L’identité de la personne a été supprimée à la fin de la durée de conservation.');
    para(doc, 'Le mandat, en mots simples', { bold: true, size: 13 });
    const words = { structure: s.name, procedures: m.procedures.map((p) => p.procedure), duration: m.duration, expiresAt: new Date(m.expiresAt) };
    for (const p of plainWords(words)) para(doc, p, { gap: 0.3 });
    doc.moveDown(0.3);
    // The same text in English and in Arabic (right to left, shaped: rtl.ts), as on the page to read.
    para(doc, 'The mandate in plain words (English)', { bold: true, size: 12 });
    for (const p of plainWordsEnglish(words)) para(doc, p, { size: 10, gap: 0.2 });
    doc.moveDown(0.3);
    rtlParagraph(doc, 'التفويض بكلمات بسيطة (بالعربية)', { size: 12, gap: 0.2 });
    for (const p of plainWordsArabic(words)) rtlParagraph(doc, p, { size: 10, gap: 0.2 });
    doc.font('Helvetica').moveDown(0.3);
    para(doc, `La personne a lu ce mandat et a donné son accord le ${fmt(m.consentAt)}.`);
    if (m.revokedAt) para(doc, `Ce mandat a été révoqué le ${fmt(m.revokedAt)}.`, { bold: true });
    if (o.revocationCode) {
      para(doc, `Code de révocation : ${o.revocationCode}`, { bold: true, size: 13, gap: 0.2 });
      para(doc, `Gardez ce code : avec la référence ${m.reference}, il vous permet de voir ce qui est fait en votre nom et de retirer ce mandat vous-même sur ${o.publicUrl}/mandats/mon-mandat. Il ne sera plus affiché.`);
    } else para(doc, 'Le code de révocation a été remis à la personne à la signature (il n’est pas conservé en clair).');
    await qrBlock(doc, verifyUrl(o.publicUrl, m), m.attestationHash, m.templateVersion);
  }, o.compress ?? true);
}

/** The attestation of a revocation (what was withdrawn, when, by whom), as a PDF. */
export async function revocationPdf(db: service.Db, m: service.Mandate, o: PdfOptions): Promise<Buffer> {
  const s = (await service.getStructure(db, m.structureId))!;
  const title = `Attestation de révocation du mandat n° ${m.reference}`;
  return render(title, async (doc) => {
    para(doc, title, { bold: true, size: 18, gap: 0.8 });
    para(doc, `Le mandat ${m.reference}, donné le ${fmt(m.createdAt)} à la structure « ${s.name} », ${m.revokedAt ? `a été révoqué le ${fmt(m.revokedAt)}${m.revokedByKind === 'person' ? ' par la personne elle-même' : ''} : plus personne ne peut agir en son nom avec lui.` : 'est toujours en cours.'}`);
    const withdrawn = m.procedures.filter((p) => p.revokedAt);
    if (withdrawn.length) {
      para(doc, 'Démarches retirées', { bold: true, size: 13 });
      for (const p of withdrawn) para(doc, `• ${procLabel(p.procedure)} — le ${fmt(p.revokedAt!)}`, { gap: 0.2 });
    }
    await qrBlock(doc, verifyUrl(o.publicUrl, m), m.attestationHash, m.templateVersion);
  }, o.compress ?? true);
}

export function sendPdf(reply: FastifyReply, pdf: Buffer, filename: string) {
  return reply.type('application/pdf').header('content-disposition', `inline; filename="${filename}"`).header('cache-control', 'no-store').header('x-robots-tag', 'noindex').send(pdf);
}

/** The mandate found by its verification id, or null (format checked first: nothing else is queried). */
export async function mandateByVerifyId(db: service.Db, verifyId: string): Promise<service.Mandate | null> {
  if (!VERIFY_ID.test(verifyId)) return null;
  const { rows } = await db.query<{ id: string }>('SELECT id FROM mandates.mandate WHERE verify_id = $1', [verifyId]);
  return rows[0] ? service.getMandate(db, rows[0].id) : null;
}

/** The print button's script (the site's CSP refuses inline handlers); without it the button stays hidden. */
export const PRINT_SCRIPT = '/mandats/assets/imprimer.js';
const PRINT_JS = "document.querySelectorAll('[data-imprimer]').forEach(function(b){b.hidden=false;b.addEventListener('click',function(){window.print();});});\n";

/** The public verification page the QR code opens (and the print button's script). */
export function registerVerificationPage(app: App, ctx: AppContext, frame: (title: string, body: Raw) => string) {
  app.get(PRINT_SCRIPT, async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=86400').send(PRINT_JS));
  const send = (reply: FastifyReply, status: number, body: string) =>
    reply.status(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').header('x-robots-tag', 'noindex').send(body);
  app.get('/mandats/verifier/:verifyId', { config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }, async (req: FastifyRequest, reply) => {
    const verifyId = String((req.params as { verifyId: string }).verifyId).toLowerCase();
    const q = req.query as Record<string, unknown>;
    const given = typeof q.empreinte === 'string' ? q.empreinte.trim().toLowerCase().slice(0, 64) : '';
    const m = await mandateByVerifyId(ctx.db, verifyId);
    if (!m) {
      return send(reply, 404, frame('Vérifier un mandat', html`<h1>Vérifier un mandat</h1><p class="warn" role="status">Ce lien de vérification ne correspond à aucun mandat. Vérifiez l’adresse (ou scannez à nouveau le code de l’attestation).</p>`));
    }
    const intact = await service.attestationIntact(ctx.db, m);
    const authentic = given ? given === m.attestationHash : null;
    const ok = m.status === 'active' && intact !== false && authentic !== false;
    const body = html`<h1>Vérifier un mandat</h1>
<div class="${ok ? 'ok' : 'warn'}" role="status">
<p>Mandat ${m.reference} : <strong>${m.status === 'active' ? 'valide' : m.status === 'expired' ? 'expiré' : 'révoqué'}</strong>${m.status === 'active' ? html` jusqu’au ${fmt(m.expiresAt)}` : m.status === 'expired' ? html` depuis le ${fmt(m.expiresAt)}` : html` le ${fmt(m.revokedAt!)}`}.</p>
${authentic === null ? '' : authentic ? html`<p>L’empreinte de cette attestation est bien celle de ce mandat.</p>` : html`<p><strong>L’empreinte ne correspond pas : cette attestation a été modifiée ou n’est pas celle de ce mandat.</strong></p>`}
${intact === false ? html`<p><strong>Les données de ce mandat ne correspondent plus à son attestation : elles ont été modifiées après sa signature. Ne vous y fiez pas et prévenez la structure.</strong></p>` : intact === null ? html`<p>L’identité de la personne a été supprimée à la fin de la durée de conservation : le contenu ne peut plus être comparé.</p>` : ''}
</div>
<p>Cette page ne montre aucune donnée personnelle.</p>`;
    return send(reply, 200, frame('Vérifier un mandat', body));
  });
}
