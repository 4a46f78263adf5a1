/**
 * The attestation's PDF (French text with accents, its salted hash, the QR code as an image), the
 * QR code in the page to print, and the public verification page it opens: valid / expired /
 * revoked, nothing personal, an unguessable id, rate-limited; a tampered attestation is detected
 * (rows altered after signature, a hash that is not this mandate's).
 */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { attestationPdf, qrSvg, verifyUrl, winAnsi } from '../attestation.ts';
import { attestationHash } from '../model.ts';
import * as service from '../service.ts';
import { PERSON, placeIn, trainedHelperAccount } from './support.ts';

const { depsOf, makeUser, signedInBrowser, Browser } = accountsTesting;
const PUBLIC_URL = 'http://localhost:41519';

/** The text a PDF draws: pdfkit writes WinAnsi strings as hex in TJ arrays (one array per line, split at kerning). */
export function pdfText(pdf: Buffer): string {
  let src = pdf.toString('latin1');
  // Inflate compressed content streams, if any.
  src = src.replace(/stream\r?\n([\s\S]*?)\r?\nendstream/g, (all, body: string) => {
    try {
      return zlib.inflateSync(Buffer.from(body, 'latin1')).toString('latin1');
    } catch {
      return all;
    }
  });
  const lines: string[] = [];
  for (const m of src.matchAll(/\[([^\]]*)\]\s*TJ/g)) {
    const hex = [...m[1]!.matchAll(/<([0-9a-fA-F]*)>/g)].map((h) => h[1]).join('');
    const bytes = Buffer.from(hex, 'hex');
    // WinAnsi → Unicode for the few characters outside Latin-1 used here.
    const map: Record<number, string> = { 0x92: '’', 0x91: '‘', 0x93: '“', 0x94: '”', 0x96: '–', 0x97: '—', 0x9c: 'œ', 0x80: '€', 0x95: '•', 0x85: '…' };
    lines.push([...bytes].map((b) => map[b] ?? String.fromCharCode(b)).join(''));
  }
  return lines.join('\n');
}

describe('mandates: attestation PDF, QR code, public verification', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let helper: accountsTesting.Browser;
  let outsider: accountsTesting.Browser;
  let m: service.Mandate;
  let code = '';

  before(async () => {
    t = await testApp({ publicUrl: PUBLIC_URL });
    const deps = depsOf(t.app);
    const { user: u, structure: s } = await trainedHelperAccount(t.ctx, 'att@exemple.fr', 'Aïcha Aidante', { structureName: 'Maison France Services de Pont-Audemer', siret: '13002526500013' });
    const c = await service.createMandate(t.ctx, u.id, s.id, { ...PERSON, procedures: ['argent-impots', 'famille-scolarite'], duration: '1y' });
    code = c.revocationCode;
    m = (await service.getMandate(t.db, c.id))!;
    helper = await signedInBrowser(t.app, deps, u, '192.0.2.80');
    const o = await makeUser(deps, 'att-out@exemple.fr', [{ role: 'helper', scopeKind: 'place', scopeId: await placeIn(t.db) }], 'Autre');
    outsider = await signedInBrowser(t.app, deps, o, '192.0.2.81');
  });
  after(async () => t?.close());

  test('the PDF: French text with its accents, the person, the code only when given, the salted hash, the QR code image', async () => {
    const pdf = await attestationPdf(t.db, m, { publicUrl: PUBLIC_URL, revocationCode: code, compress: false });
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    const text = pdfText(pdf);
    assert.match(text, new RegExp(`Attestation de mandat n° ${m.reference}`));
    assert.match(text, /Personne représentée : Jeanne Lefèvre, née le 12 mai 1948/);
    assert.match(text, /Maison France Services de Pont-Audemer/);
    assert.match(text, /Argent, impôts/);
    assert.match(text, /Famille, scolarité/);
    assert.match(text, /recueilli par Aïcha Aidante/);
    assert.match(text, new RegExp(`Code de révocation : ${code}`));
    assert.match(text, /Empreinte de l’attestation \(SHA-256 salé, modèle mandat-2026-12-v1\)/);
    assert.ok(text.includes(m.attestationHash), 'the hash is printed');
    // The printed hash is the salted hash of the stored content and template version.
    const salt = (await t.db.query<{ attestation_salt: string }>('SELECT attestation_salt FROM mandates.mandate WHERE id = $1', [m.id])).rows[0]!.attestation_salt;
    assert.equal(attestationHash(salt, m.templateVersion, (await service.attestationContent(t.db, m))!), m.attestationHash);
    assert.match(pdf.toString('latin1'), /\/Subtype \/Image/, 'the QR code is an image');
    assert.match(pdf.toString('latin1'), /\/Lang \(fr-FR\)/);
    // Without the code (a reprint), compressed as served.
    const reprint = await attestationPdf(t.db, m, { publicUrl: PUBLIC_URL });
    const rt = pdfText(reprint);
    assert.ok(!rt.includes(code));
    assert.match(rt, /n’est pas conservé en clair/);
  });

  test('characters the standard fonts lack are transliterated, never dropped silently', () => {
    assert.equal(winAnsi('Łukasz Żółć — Œuvre « ok »'), 'Lukasz Zólc — Œuvre « ok »');
    assert.equal(winAnsi('محمد'), '????');
  });

  test('the page to print has the QR code (SVG of the verification address) and the PDF link; the PDF is for the structure’s helpers only', async () => {
    const page = await helper.get(`/mandats/${m.id}/attestation`);
    assert.equal(page.status, 200);
    const url = verifyUrl(PUBLIC_URL, m);
    assert.ok(page.body.includes(String(qrSvg(url, `Code QR de vérification du mandat ${m.reference}`))), 'the SVG encodes the verification address');
    assert.match(page.body, /<svg [^>]*role="img" aria-label="Code QR de vérification du mandat/);
    assert.ok(page.body.includes(`href="${url.replace(/&/g, '&amp;')}"`));
    const pdf = await helper.download(`/mandats/${m.id}/attestation.pdf`);
    assert.equal(pdf.status, 200);
    assert.equal(pdf.headers['content-type'], 'application/pdf');
    assert.equal(pdf.headers['cache-control'], 'no-store');
    assert.equal((await outsider.download(`/mandats/${m.id}/attestation.pdf`)).status, 404);
    assert.equal((await new Browser(t.app).download(`/mandats/${m.id}/attestation.pdf`)).status !== 200, true);
  });

  test('the verification id is 256 random bits, distinct per mandate, not the reference', async () => {
    assert.match(m.verifyId, /^[0-9a-f]{64}$/);
    const { rows } = await t.db.query<{ n: number; d: number }>('SELECT count(*)::int AS n, count(DISTINCT verify_id)::int AS d FROM mandates.mandate');
    assert.equal(rows[0]!.n, rows[0]!.d);
    assert.ok(!m.verifyId.includes(m.reference));
  });

  test('the public page: valid, the hash authentic, nothing personal; unknown or malformed ids: 404', async () => {
    const anon = new Browser(t.app, '192.0.2.82');
    let r = await anon.get(`/mandats/verifier/${m.verifyId}?empreinte=${m.attestationHash}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.match(r.body, new RegExp(`Mandat ${m.reference} : <strong>valide</strong>`));
    assert.match(r.body, /est bien celle de ce mandat/);
    for (const personal of ['Jeanne', 'Lefèvre', '1948', 'Pont-Audemer', 'Aïcha']) assert.ok(!r.body.includes(personal), `no ${personal}`);
    r = await anon.get(`/mandats/verifier/${m.verifyId}?empreinte=${'0'.repeat(64)}`);
    assert.match(r.body, /L’empreinte ne correspond pas/);
    assert.equal((await anon.get(`/mandats/verifier/${'a'.repeat(64)}`)).status, 404);
    assert.equal((await anon.get('/mandats/verifier/constructor')).status, 404);
    const nul = (await anon.get(`/mandats/verifier/${'%00'.repeat(10)}`)).status;
    assert.ok(nul === 400 || nul === 404, `NUL bytes: ${nul}`);
    const huge = (await anon.get(`/mandats/verifier/${'x'.repeat(5000)}`)).status;
    assert.ok(huge === 404 || huge === 414, `huge id: ${huge}`);
  });

  test('a tampered attestation is detected: rows changed after signature', async () => {
    const anon = new Browser(t.app, '192.0.2.83');
    await t.db.query("UPDATE mandates.person SET family_name = 'Lefebvre' WHERE id = $1", [m.personId]);
    try {
      const r = await anon.get(`/mandats/verifier/${m.verifyId}`);
      assert.match(r.body, /ont été modifiées après sa signature/);
      assert.equal(await service.attestationIntact(t.db, (await service.getMandate(t.db, m.id))!), false);
    } finally {
      await t.db.query("UPDATE mandates.person SET family_name = 'Lefèvre' WHERE id = $1", [m.personId]);
    }
    await t.db.query("UPDATE mandates.mandate_procedure SET procedure = 'justice' WHERE mandate_id = $1 AND procedure = 'famille-scolarite'", [m.id]);
    try {
      assert.match((await anon.get(`/mandats/verifier/${m.verifyId}`)).body, /ont été modifiées après sa signature/);
    } finally {
      await t.db.query("UPDATE mandates.mandate_procedure SET procedure = 'famille-scolarite' WHERE mandate_id = $1 AND procedure = 'justice'", [m.id]);
    }
    assert.doesNotMatch((await anon.get(`/mandats/verifier/${m.verifyId}`)).body, /modifiées/);
  });

  test('revoked and expired mandates say so', async () => {
    const anon = new Browser(t.app, '192.0.2.84');
    const deps = depsOf(t.app);
    void deps;
    await service.revokeByPerson(t.ctx, m.reference, code, null);
    assert.match((await anon.get(`/mandats/verifier/${m.verifyId}`)).body, /<strong>révoqué<\/strong> le/);
    const past = new Date(Date.now() - 3 * 24 * 3600_000);
    const c = await service.createMandate(t.ctx, m.createdBy, m.structureId, { ...PERSON, procedures: ['logement'], duration: '1d' }, { now: past });
    const old = (await service.getMandate(t.db, c.id))!;
    assert.match((await anon.get(`/mandats/verifier/${old.verifyId}`)).body, /<strong>expiré<\/strong> depuis le/);
  });

  test('the page is rate-limited per address', async () => {
    const anon = new Browser(t.app, '192.0.2.85');
    let last = 0;
    for (let i = 0; i < 31; i++) last = (await anon.get(`/mandats/verifier/${'b'.repeat(64)}`)).status;
    assert.equal(last, 429);
  });
});
