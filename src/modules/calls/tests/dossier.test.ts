/**
 * Issue #18, around a dossier: files as answers (type read from the content, size limit, served as
 * attachments to the applicant and the instructors only), private annotations and confidential
 * opinions the applicant never sees, and the message thread (CSRF, e-mails, a limit per person).
 * Every refusal is checked on the rows, not only on the status.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { readOutbox, accountsTesting } from '../../accounts/index.ts';
import * as service from '../service.ts';
import { siretProblem } from '../../../platform/siret.ts';
import * as dossier from '../dossier.ts';
import { sniffFile } from '../model.ts';
import { FORM, completeForm, makeCall, person, refused, unchanged } from './support.ts';

const { Browser } = accountsTesting;
type B = InstanceType<typeof Browser>;

const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n'), Buffer.alloc(200, 0x20), Buffer.from('\n%%EOF\n')]);
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 1)]);
const HTML = Buffer.from('<!doctype html><script>alert(document.cookie)</script>');

function multipart(fields: Record<string, string>, file: { name: string; data: Buffer; type?: string }) {
  const boundary = '----dossier' + Math.random().toString(16).slice(2);
  const parts: Buffer[] = Object.entries(fields).map(([k, v]) => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: ${file.type ?? 'application/pdf'}\r\n\r\n`), Buffer.from(file.data), Buffer.from(`\r\n--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

describe('calls: files, confidential notes, messages', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let staff: Awaited<ReturnType<typeof person>>;
  let reviewer: Awaited<ReturnType<typeof person>>;
  let applicant: Awaited<ReturnType<typeof person>>;
  let stranger: Awaited<ReturnType<typeof person>>;
  let appId: string;
  let call: service.Call;

  const upload = (b: B, id: string, question: string, file: { name: string; data: Buffer; type?: string }, csrf = true) => {
    const m = multipart({ ...(csrf ? { _csrf: b.csrf! } : {}), question }, file);
    return t.app.inject({ method: 'POST', url: `/candidatures/${id}/fichiers`, remoteAddress: b.ip, payload: m.payload, headers: { accept: 'text/html', 'content-type': m.contentType, cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
  };

  before(async () => {
    t = await testApp();
    staff = await person(t.app, 'regional_staff', { kind: 'region', id: '24' });
    reviewer = await person(t.app, 'reviewer', { kind: 'region', id: '24' });
    applicant = await person(t.app, null);
    stranger = await person(t.app, null);
    const form = {
      ...FORM,
      questions: [...FORM.questions, { id: 'statuts', label: 'Statuts signés', type: 'file', required: true, accept: ['pdf'], maxBytes: 4096 }, { id: 'photo', label: 'Photo du lieu', type: 'file', required: false }],
    };
    call = await makeCall(t.db, staff.actor, { form });
    const org = await service.createOrganisation({ db: t.db }, applicant.user.id, { siret: '73282932000074', name: 'Tiers-lieu des Fichiers', kind: 'association', departement: '41' });
    appId = (await service.startApplication({ db: t.db }, applicant.user.id, call.id, org.id)).id;
    await applicant.browser.get(`/candidatures/${appId}`);
    assert.equal((await applicant.browser.post(`/candidatures/${appId}`, completeForm(20000))).status, 303);
  });
  after(async () => t.close());

  test('the type of a file is read from its content', () => {
    assert.equal(sniffFile(PDF), 'pdf');
    assert.equal(sniffFile(PNG), 'png');
    assert.equal(sniffFile(HTML), null);
    assert.equal(sniffFile(Buffer.from('PK\u0003\u0004 pas vraiment une archive')), null);
  });

  test('a file answer: checked by content, size and name; kept by later saves; fingerprinted on submission', async () => {
    const page = await applicant.browser.get(`/candidatures/${appId}`);
    assert.match(page.body, /Joignez le fichier « Statuts signés »/);
    assert.match(page.body, /enctype="multipart\/form-data"/);
    // refusals: nothing written
    const bad: [string, { name: string; data: Buffer; type?: string }, number, RegExp][] = [
      ['statuts', { name: 'statuts.pdf', data: HTML, type: 'application/pdf' }, 415, /pas d’un type accepté/],
      ['statuts', { name: 'statuts.html', data: PDF }, 415, /ne correspond pas au contenu/],
      ['statuts', { name: 'statuts.pdf', data: Buffer.concat([PDF, Buffer.alloc(5000, 0x20)]) }, 413, /4 Ko au plus/],
      ['statuts', { name: 'photo.png', data: PNG, type: 'image/png' }, 415, /pas d’un type accepté \(PDF\)/],
      ['constructor', { name: 'statuts.pdf', data: PDF }, 422, /Question inconnue/],
      ['resume', { name: 'statuts.pdf', data: PDF }, 422, /Question inconnue/],
      // a NUL byte in the body is refused by the platform before the route (400)
      ['statuts', { name: 'stat\u0000uts.pdf', data: PDF }, 400, /Erreur/],
    ];
    for (const [q, file, status, message] of bad) {
      await unchanged(t.db, async () => {
        const res = await upload(applicant.browser, appId, q, file);
        assert.equal(res.statusCode, status, `${q} ${file.name}: ${res.body.slice(0, 200)}`);
        assert.match(res.body, message);
      });
    }
    // without the CSRF token, by a stranger, anonymously: refused, unchanged
    await unchanged(t.db, async () => assert.equal((await upload(applicant.browser, appId, 'statuts', { name: 'statuts.pdf', data: PDF }, false)).statusCode, 403));
    await stranger.browser.get('/candidatures');
    await unchanged(t.db, async () => assert.equal((await upload(stranger.browser, appId, 'statuts', { name: 'statuts.pdf', data: PDF })).statusCode, 404));
    await unchanged(t.db, async () => assert.equal((await upload(new Browser(t.app, '198.51.100.77'), appId, 'statuts', { name: 'statuts.pdf', data: PDF }, false)).statusCode, 401));

    const ok = await upload(applicant.browser, appId, 'statuts', { name: 'Statuts signés.PDF', data: PDF });
    assert.equal(ok.statusCode, 303, ok.body.slice(0, 300));
    let a = (await service.getApplication(t.db, appId))!;
    const f = a.answers.statuts as { file: string; name: string; sha256: string; kind: string; size: number };
    assert.equal(f.kind, 'pdf');
    assert.equal(f.size, PDF.length);
    assert.match(f.sha256, /^[0-9a-f]{64}$/);
    // the same content again is stored once (content-addressed)
    assert.equal((await upload(applicant.browser, appId, 'photo', { name: 'copie.pdf', data: PDF })).statusCode, 303);
    const blobs = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM calls.blob WHERE sha256 = $1', [f.sha256]);
    assert.equal(blobs.rows[0]!.n, 1);
    // a later save of the form keeps the files (the form never carries them)
    await applicant.browser.get(`/candidatures/${appId}`);
    assert.equal((await applicant.browser.post(`/candidatures/${appId}`, { ...completeForm(20000), 'q.statuts': '{"file":"forged"}' })).status, 303);
    a = (await service.getApplication(t.db, appId))!;
    assert.deepEqual(a.answers.statuts, f);
    assert.deepEqual(await service.whatIsMissing(t.db, a), []);

    // downloads: the applicant and the call's instructors only; never inline
    const dl = await applicant.browser.download(`/candidatures/${appId}/fichiers/${f.file}`);
    assert.equal(dl.status, 200);
    assert.deepEqual(dl.bytes, PDF);
    assert.equal(dl.headers['content-type'], 'application/pdf');
    assert.match(String(dl.headers['content-disposition']), /^attachment; filename="Statuts sign_s.PDF"; filename\*=UTF-8''Statuts%20sign%C3%A9s.PDF$/);
    assert.equal(dl.headers['x-content-type-options'], 'nosniff');
    assert.match(String(dl.headers['content-security-policy']), /sandbox/);
    assert.equal((await staff.browser.download(`/gestion/dossiers/${appId}/fichiers/${f.file}`)).status, 200);
    assert.equal((await stranger.browser.download(`/candidatures/${appId}/fichiers/${f.file}`)).status, 404);
    assert.equal((await reviewer.browser.download(`/gestion/dossiers/${appId}/fichiers/${f.file}`)).status, 404);
    assert.equal((await applicant.browser.download(`/candidatures/${appId}/fichiers/00000000-0000-4000-8000-000000000000`)).status, 404);

    // submitted: the receipt's fingerprint covers the file's hash; no more uploads
    const { receipt } = await service.submit({ db: t.db }, applicant.user.id, appId);
    const rec = await applicant.browser.get(`/candidatures/${appId}/recepisse`);
    assert.match(rec.body, new RegExp(f.sha256));
    assert.ok(receipt.fingerprint);
    await applicant.browser.get(`/candidatures/${appId}`);
    await unchanged(t.db, async () => assert.equal((await upload(applicant.browser, appId, 'statuts', { name: 'autre.pdf', data: PDF })).statusCode, 409));
  });

  test('annotations and confidential opinions are never shown to the applicant', async () => {
    await service.transition({ db: t.db }, staff.actor, appId, 'en_instruction', '');
    await service.assignReviewer({ db: t.db }, staff.actor, appId, reviewer.actor);
    // an opinion needs the declaration first, and no hard conflict
    await refused(t.db, () => dossier.giveOpinion({ db: t.db }, reviewer.actor, appId, 'AVIS-SECRET-1'), 409, 'conflict');
    await service.declareConflict({ db: t.db }, reviewer.actor, appId, 'none', '');
    await reviewer.browser.get(`/evaluations/${appId}`);
    assert.equal((await reviewer.browser.post(`/evaluations/${appId}/avis`, { opinion: 'AVIS-SECRET-1 : le budget est fragile.' })).status, 303);
    await service.submitReview({ db: t.db }, reviewer.actor, appId, { score_impact: '4', score_faisabilite: '7', recommendation: 'reserve', comment: 'COMMENTAIRE-SECRET-2' });
    await staff.browser.get(`/gestion/dossiers/${appId}`);
    assert.equal((await staff.browser.post(`/gestion/dossiers/${appId}/annotations`, { annotation: 'NOTE-SECRETE-3 : appeler le maire.' })).status, 303);
    await refused(t.db, () => dossier.annotate({ db: t.db }, staff.actor, appId, '   '), 400, 'annotation');
    await refused(t.db, () => dossier.annotate({ db: t.db }, applicant.actor, appId, 'je veux annoter'), 403);
    await refused(t.db, () => dossier.giveOpinion({ db: t.db }, applicant.actor, appId, 'mon avis'), 404);
    // the applicant's account may not post to the staff routes
    await applicant.browser.get(`/candidatures/${appId}`);
    await unchanged(t.db, async () => assert.equal((await applicant.browser.post(`/gestion/dossiers/${appId}/annotations`, { annotation: 'intrus' })).status, 403));
    const staffPage = await staff.browser.get(`/gestion/dossiers/${appId}`);
    for (const s of ['AVIS-SECRET-1', 'COMMENTAIRE-SECRET-2', 'NOTE-SECRETE-3']) assert.ok(staffPage.body.includes(s), s);
    const seen = [
      (await applicant.browser.get(`/candidatures/${appId}`)).body,
      (await applicant.browser.get('/candidatures')).body,
      (await applicant.browser.get(`/candidatures/${appId}/recepisse`)).body,
      (await t.app.inject({ url: `/api/v1/calls/${call.slug}` })).body,
      (await t.app.inject({ url: '/api/v1/calls?state=all' })).body,
      (await t.app.inject({ url: `/appels/${call.slug}`, headers: { accept: 'text/html' } })).body,
    ].join('\n');
    for (const s of ['AVIS-SECRET', 'COMMENTAIRE-SECRET', 'NOTE-SECRETE', 'Annotations privées']) assert.ok(!seen.includes(s), `the applicant sees ${s}`);
  });

  test('the message thread: both ways, e-mails without the text, CSRF, a limit per person even when simultaneous', async () => {
    await service.setInstructor({ db: t.db }, staff.actor, call.id, staff.user.id, []);
    await applicant.browser.get(`/candidatures/${appId}`);
    await unchanged(t.db, async () => assert.equal((await applicant.browser.post(`/candidatures/${appId}/messages`, { message: 'sans jeton' }, { csrf: false })).status, 403));
    await unchanged(t.db, async () => assert.equal((await applicant.browser.post(`/candidatures/${appId}/messages`, { message: '  ' })).status, 422));
    await unchanged(t.db, async () => assert.equal((await applicant.browser.post(`/candidatures/${appId}/messages`, { message: 'x'.repeat(5001) })).status, 422));
    await stranger.browser.get('/candidatures');
    await unchanged(t.db, async () => assert.equal((await stranger.browser.post(`/candidatures/${appId}/messages`, { message: 'intrus' })).status, 404));
    const sent = await applicant.browser.post(`/candidatures/${appId}/messages`, { message: 'MESSAGE-PORTEUR : la pièce 3 arrive lundi.' });
    assert.equal(sent.status, 303);
    const toStaff = await readOutbox(t.db, staff.user.email);
    assert.ok(toStaff.some((m) => /Nouveau message sur le dossier/.test(m.subject) && !m.body.includes('MESSAGE-PORTEUR')));
    await staff.browser.get(`/gestion/dossiers/${appId}`);
    assert.equal((await staff.browser.post(`/gestion/dossiers/${appId}/messages`, { message: 'REPONSE-INSTRUCTION : merci.' })).status, 303);
    assert.ok((await readOutbox(t.db, applicant.user.email)).some((m) => /Nouveau message sur votre dossier/.test(m.subject) && !m.body.includes('REPONSE-INSTRUCTION')));
    const mine = await applicant.browser.get(`/candidatures/${appId}`);
    assert.match(mine.body, /MESSAGE-PORTEUR/);
    assert.match(mine.body, /REPONSE-INSTRUCTION/);
    assert.match(mine.body, /L’instruction/);
    assert.match((await staff.browser.get(`/gestion/dossiers/${appId}`)).body, /MESSAGE-PORTEUR/);
    // the limit per person and dossier holds for simultaneous posts: 25 tries, 20 pass in all
    const before = (await dossier.messagesOf(t.db, appId)).filter((m) => m.fromApplicant).length;
    const tries = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => dossier.postMessage({ db: t.db }, applicant.actor, appId, `message ${i}`)));
    const after = (await dossier.messagesOf(t.db, appId)).filter((m) => m.fromApplicant).length;
    assert.equal(after, dossier.MESSAGES_PER_DAY);
    assert.equal(tries.filter((r) => r.status === 'fulfilled').length, dossier.MESSAGES_PER_DAY - before);
    assert.ok(tries.some((r) => r.status === 'rejected' && (r.reason as { statusCode: number }).statusCode === 429));
    await refused(t.db, () => dossier.postMessage({ db: t.db }, applicant.actor, appId, 'encore'), 429, 'message');
  });

  test('the applicant removes a file from a draft; refusals change nothing', async () => {
    const org = (await service.myOrganisations(t.db, applicant.user.id))[0]!;
    const id = (await service.startApplication({ db: t.db }, applicant.user.id, call.id, org.id)).id;
    await applicant.browser.get(`/candidatures/${id}`);
    const UNIQUE = Buffer.concat([PDF, Buffer.from(`% retrait ${id}\n`)]);
    assert.equal((await upload(applicant.browser, id, 'statuts', { name: 'brouillon.pdf', data: UNIQUE })).statusCode, 303);
    const f = (await service.getApplication(t.db, id))!.answers.statuts as { file: string; sha256: string };
    const page = await applicant.browser.get(`/candidatures/${id}`);
    assert.match(page.body, /Fichier joint à « Statuts signés » : <strong>brouillon.pdf<\/strong>/);
    assert.match(page.body, /action="\/candidatures\/[^"]+\/fichiers\/retirer"/);
    // refusals: without the token, a stranger, an unknown or non-file question, a question with no file
    await unchanged(t.db, async () => assert.equal((await applicant.browser.post(`/candidatures/${id}/fichiers/retirer`, { question: 'statuts' }, { csrf: false })).status, 403));
    await stranger.browser.get('/candidatures');
    await unchanged(t.db, async () => assert.equal((await stranger.browser.post(`/candidatures/${id}/fichiers/retirer`, { question: 'statuts' })).status, 404));
    for (const [q, status, message] of [['__proto__', 422, /Question inconnue/], ['resume', 422, /Question inconnue/], ['photo', 409, /aucun fichier n’est joint/]] as const) {
      await unchanged(t.db, async () => {
        const res = await applicant.browser.post(`/candidatures/${id}/fichiers/retirer`, { question: q });
        assert.equal(res.status, status, q);
        assert.match(res.body, message);
      });
    }
    const removed = await applicant.browser.post(`/candidatures/${id}/fichiers/retirer`, { question: 'statuts' });
    assert.equal(removed.status, 303);
    const a = (await service.getApplication(t.db, id))!;
    assert.equal(a.answers.statuts, undefined);
    // a draft's upload leaves no trace: its record and its content (shared by no other upload) are gone
    assert.equal((await t.db.query('SELECT 1 FROM calls.application_file WHERE id = $1', [f.file])).rows.length, 0);
    assert.equal((await t.db.query('SELECT 1 FROM calls.blob WHERE sha256 = $1', [f.sha256])).rows.length, 0);
    assert.ok((await service.whatIsMissing(t.db, a)).some((g) => g.field === 'q_statuts'));
    const audit = await t.db.query<{ before: { name: string } }>(`SELECT before FROM platform.audit_entry WHERE action = 'calls.file.remove' AND object_id = $1`, [id]);
    assert.equal(audit.rows[0]?.before.name, 'brouillon.pdf');
    assert.equal((await applicant.browser.download(`/candidatures/${id}/fichiers/${f.file}`)).status, 404);
    // a submitted dossier: its files can no longer be removed
    await unchanged(t.db, async () => assert.equal((await applicant.browser.post(`/candidatures/${appId}/fichiers/retirer`, { question: 'statuts' })).status, 409));
  });

  test('50 removals of the same file at once: one removes it, the others are refused, one audit entry', async () => {
    const org = (await service.myOrganisations(t.db, applicant.user.id))[0]!;
    const id = (await service.startApplication({ db: t.db }, applicant.user.id, call.id, org.id)).id;
    await applicant.browser.get(`/candidatures/${id}`);
    const data = Buffer.concat([PDF, Buffer.from(`% course ${id}\n`)]);
    assert.equal((await upload(applicant.browser, id, 'statuts', { name: 'course.pdf', data })).statusCode, 303);
    await applicant.browser.get(`/candidatures/${id}`);
    const results = await Promise.all(Array.from({ length: 50 }, () => applicant.browser.post(`/candidatures/${id}/fichiers/retirer`, { question: 'statuts' })));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 303).length, 1, statuses.join(','));
    assert.ok(statuses.every((s) => s === 303 || s === 409 || s === 429), statuses.join(','));
    const audit = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM platform.audit_entry WHERE action = 'calls.file.remove' AND object_id = $1`, [id]);
    assert.equal(audit.rows[0]!.n, 1);
    assert.equal((await t.db.query('SELECT 1 FROM calls.application_file WHERE application_id = $1', [id])).rows.length, 0);
  });

  test('a removal racing an upload of the same content by someone else: both answered, the content kept for the upload', async () => {
    // Two people of their own (the removal limit of the test above is spent), each with a structure.
    const siret = (head: string) => [...'0123456789'].map((k) => `${head}${k}`).find((x) => !siretProblem(x))!;
    const mover = await person(t.app, null);
    const other = await person(t.app, null);
    const orgA = await service.createOrganisation({ db: t.db }, mover.user.id, { siret: siret('8123456780001'), name: 'Tiers-lieu qui retire', kind: 'association' });
    const orgB = await service.createOrganisation({ db: t.db }, other.user.id, { siret: siret('8123456780002'), name: 'Tiers-lieu qui dépose', kind: 'association' });
    for (let round = 0; round < 8; round++) {
      const a = (await service.startApplication({ db: t.db }, mover.user.id, call.id, orgA.id)).id;
      const b = (await service.startApplication({ db: t.db }, other.user.id, call.id, orgB.id)).id;
      const data = Buffer.concat([PDF, Buffer.from(`% partagé ${a}\n`)]);
      await mover.browser.get(`/candidatures/${a}`);
      assert.equal((await upload(mover.browser, a, 'statuts', { name: 'a.pdf', data })).statusCode, 303);
      await mover.browser.get(`/candidatures/${a}`);
      await other.browser.get(`/candidatures/${b}`);
      const [removed, uploaded] = await Promise.all([
        mover.browser.post(`/candidatures/${a}/fichiers/retirer`, { question: 'statuts' }),
        upload(other.browser, b, 'statuts', { name: 'b.pdf', data }),
      ]);
      assert.equal(removed.status, 303, `round ${round}: removal ${removed.status}`);
      assert.equal(uploaded.statusCode, 303, `round ${round}: upload ${uploaded.statusCode} ${uploaded.body.slice(0, 200)}`);
      const sha = (await service.getApplication(t.db, b))!.answers.statuts as { sha256: string };
      assert.equal((await t.db.query('SELECT 1 FROM calls.blob WHERE sha256 = $1', [sha.sha256])).rows.length, 1, `round ${round}: the upload's content is gone`);
    }
  });

  test('reviewers download the files of dossiers confided to them, after their declaration, never under a hard conflict', async () => {
    const f = (await service.getApplication(t.db, appId))!.answers.statuts as { file: string };
    const url = `/evaluations/${appId}/fichiers/${f.file}`;
    await reviewer.browser.get('/evaluations');
    const dl = await reviewer.browser.download(url);
    assert.equal(dl.status, 200);
    assert.deepEqual(dl.bytes, PDF);
    assert.match(String(dl.headers['content-disposition']), /^attachment;/);
    assert.match((await reviewer.browser.get(`/evaluations/${appId}`)).body, new RegExp(`href="${url}"`));
    // another reviewer: not assigned, then assigned but not declared, then under a hard conflict
    const other = await person(t.app, 'reviewer', { kind: 'region', id: '24' });
    await other.browser.get('/evaluations');
    assert.equal((await other.browser.download(url)).status, 404);
    await service.assignReviewer({ db: t.db }, staff.actor, appId, other.actor);
    assert.equal((await other.browser.download(url)).status, 404);
    await service.declareConflict({ db: t.db }, other.actor, appId, 'hard', 'Je préside cette association.');
    assert.equal((await other.browser.download(url)).status, 404);
    assert.equal((await stranger.browser.download(url)).status, 403);
  });
});
