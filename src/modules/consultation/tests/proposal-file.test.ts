/**
 * The file of a proposal: attached by its author (multipart), the kind read from the content,
 * size limit, a renamed executable refused, a stranger refused before the body is read, served as
 * an attachment (nosniff), a hidden proposal's file served to moderators only, removal; rows
 * checked unchanged after every refusal; never in the open-data exports.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { postMultipart } from '../../../../test/support/multipart.ts';
import { accountsTesting } from '../../accounts/index.ts';
import * as svc from '../service.ts';
import { MAX_PROPOSAL_FILE_BYTES } from '../proposal-file.ts';
import { at, makeProcess } from './support.ts';

const { depsOf, makeUser, signedInBrowser } = accountsTesting;
const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(2000, 0x20), Buffer.from('\n%%EOF\n')]);
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(100, 1)]);
const EXE = Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00\x00\x00', 'latin1'), Buffer.alloc(500, 0)]);

describe('consultation: the file of a proposal', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let author: Awaited<ReturnType<typeof makeUser>>;
  let stranger: Awaited<ReturnType<typeof makeUser>>;
  let moderator: Awaited<ReturnType<typeof makeUser>>;
  const rows = async () => ({
    files: (await t.db.query('SELECT proposal_id, name, kind, size, sha256 FROM consultation.proposal_file ORDER BY proposal_id')).rows,
    audit: (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM platform.audit_entry WHERE action LIKE 'consultation.file.%'`)).rows[0]!.n,
  });
  const setup = async () => {
    const p = await makeProcess(t.db, { proposals: true, comments: true });
    const pr = await svc.submitProposal({ db: t.db }, p, { id: author.id, emailVerified: true, createdAt: at(-100).toISOString() }, { title: 'Une proposition avec un plan', body: 'Un corps de proposition assez long pour passer la validation.', category: null, communeCode: null, placeUid: null });
    return { p, pr, url: `/concertations/${p.slug}/propositions/${pr.number}` };
  };

  before(async () => {
    t = await testApp();
    const deps = depsOf(t.app);
    author = await makeUser(deps, 'auteur-fichier@exemple.fr', [], 'Autrice');
    stranger = await makeUser(deps, 'autre-fichier@exemple.fr', [], 'Quelqu’un d’autre');
    moderator = await makeUser(deps, 'moderation-fichier@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '27' }], 'Modération');
  });
  after(async () => t.close());

  test('the author attaches a PDF, everyone downloads it as an attachment, the author replaces and removes it', async () => {
    const { pr, url } = await setup();
    const b = await signedInBrowser(t.app, depsOf(t.app), author, '192.0.2.141');
    const pageRes = await b.get(url);
    assert.match(pageRes.body, /enctype="multipart\/form-data"/);
    const res = await postMultipart(t.app, b, `${url}/fichier`, {}, [{ field: 'file', fileName: 'plan du tiers-lieu.pdf', content: PDF, type: 'application/octet-stream' }]);
    assert.equal(res.status, 303, res.body.slice(0, 1500));
    const f = (await t.db.query<{ kind: string; size: number; name: string }>('SELECT kind, size, name FROM consultation.proposal_file WHERE proposal_id = $1', [pr.id])).rows[0]!;
    assert.deepEqual([f.kind, f.size, f.name], ['pdf', PDF.length, 'plan du tiers-lieu.pdf']);
    const anon = await t.app.inject({ method: 'GET', url: `${url}/fichier` });
    assert.equal(anon.statusCode, 200);
    assert.equal(anon.headers['content-type'], 'application/pdf');
    assert.match(String(anon.headers['content-disposition']), /^attachment; filename="plan du tiers-lieu.pdf"/);
    assert.equal(anon.headers['x-content-type-options'], 'nosniff');
    assert.ok(anon.rawPayload.equals(PDF));
    const shown = await t.app.inject({ method: 'GET', url });
    assert.match(shown.body, /plan du tiers-lieu\.pdf<\/a> \(PDF, 2 Ko\)/);
    // Replaced by a PNG sent as « image/gif »: the type comes from the bytes.
    await b.get(url);
    assert.equal((await postMultipart(t.app, b, `${url}/fichier`, {}, [{ field: 'file', fileName: 'plan.png', content: PNG, type: 'image/gif' }])).status, 303);
    assert.equal((await t.app.inject({ method: 'GET', url: `${url}/fichier` })).headers['content-type'], 'image/png');
    await b.get(url);
    assert.equal((await b.post(`${url}/fichier/retirer`, {})).status, 303);
    assert.equal((await t.app.inject({ method: 'GET', url: `${url}/fichier` })).statusCode, 404);
    const audit = (await t.db.query<{ action: string }>(`SELECT action FROM platform.audit_entry WHERE object_id = $1 AND action LIKE 'consultation.file.%' ORDER BY seq`, [pr.id])).rows.map((r) => r.action);
    assert.deepEqual(audit, ['consultation.file.attach', 'consultation.file.attach', 'consultation.file.remove']);
  });

  test('a file sent with the proposal form: stored with the new proposal; a wrong one refuses the whole form, nothing saved', async () => {
    const p = await makeProcess(t.db, { proposals: true });
    const b = await signedInBrowser(t.app, depsOf(t.app), author, '192.0.2.148');
    const form = await b.get(`/concertations/${p.slug}/propositions/nouvelle`);
    assert.match(form.body, /enctype="multipart\/form-data"/);
    const fields = { title: 'Un tiers-lieu dans la gare', body: 'Transformer la salle d’attente inutilisée en tiers-lieu ouvert.' };
    const count = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM consultation.proposal WHERE process_id = $1', [p.id])).rows[0]!.n;
    const before = { ...(await rows()), proposals: await count() };
    const bad = await postMultipart(t.app, b, `/concertations/${p.slug}/propositions`, fields, [{ field: 'file', fileName: 'plan.pdf', content: EXE }]);
    assert.equal(bad.status, 422);
    assert.match(bad.body, /href="#f-file"/);
    assert.match(bad.body, /Un tiers-lieu dans la gare/); // the form keeps what was typed
    assert.deepEqual({ ...(await rows()), proposals: await count() }, before);
    const anon = await t.app.inject({ method: 'POST', url: `/concertations/${p.slug}/propositions`, payload: Buffer.alloc(MAX_PROPOSAL_FILE_BYTES * 2, 0x20), headers: { 'content-type': 'multipart/form-data; boundary=x' } });
    assert.equal(anon.statusCode, 401);
    const ok = await postMultipart(t.app, b, `/concertations/${p.slug}/propositions`, fields, [{ field: 'file', fileName: 'gare.jpg', content: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(300, 7)]) }]);
    assert.equal(ok.status, 303, ok.body.slice(0, 1000));
    const pr = (await svc.getProposal(t.db, p.id, 1))!;
    assert.equal(pr.title, fields.title);
    const f = (await t.db.query<{ kind: string; name: string }>('SELECT kind, name FROM consultation.proposal_file WHERE proposal_id = $1', [pr.id])).rows[0]!;
    assert.deepEqual([f.kind, f.name], ['jpeg', 'gare.jpg']);
    // Without a file, as before (urlencoded).
    await b.get(`/concertations/${p.slug}/propositions/nouvelle`);
    assert.equal((await b.post(`/concertations/${p.slug}/propositions`, { ...fields, title: 'Une deuxième proposition' })).status, 303);
  });

  test('too large, wrong type (renamed .exe), extension disagreeing, empty, no CSRF: refused with the reason, rows unchanged', async () => {
    const { url } = await setup();
    const b = await signedInBrowser(t.app, depsOf(t.app), author, '192.0.2.142');
    const cases: [{ fileName: string; content: Buffer }[], number, RegExp][] = [
      [[{ fileName: 'gros.pdf', content: Buffer.concat([PDF, Buffer.alloc(MAX_PROPOSAL_FILE_BYTES, 0x20)]).subarray(0, MAX_PROPOSAL_FILE_BYTES + 1) }], 413, /5 Mo au plus/],
      [[{ fileName: 'plan.pdf', content: EXE }], 415, /seuls les PDF et les images PNG ou JPEG/],
      [[{ fileName: 'plan.exe', content: EXE }], 415, /seuls les PDF/],
      [[{ fileName: 'plan.png', content: PDF }], 415, /renommez-le/],
      [[{ fileName: 'vide.pdf', content: Buffer.alloc(0) }], 422, /choisissez un fichier/],
      [[], 422, /choisissez un fichier/],
    ];
    for (const [files, status, message] of cases) {
      await b.get(url);
      const before = await rows();
      const res = await postMultipart(t.app, b, `${url}/fichier`, {}, files.map((f) => ({ field: 'file', type: 'application/pdf', ...f })));
      assert.equal(res.status, status, `${files[0]?.fileName}: ${res.body.slice(0, 300)}`);
      assert.match(res.body, message);
      assert.deepEqual(await rows(), before);
    }
    await b.get(url);
    const before = await rows();
    assert.equal((await postMultipart(t.app, b, `${url}/fichier`, {}, [{ field: 'file', fileName: 'plan.pdf', content: PDF }], { csrf: false })).status, 403);
    // Above the body limit: 413 before anything is parsed.
    assert.equal((await postMultipart(t.app, b, `${url}/fichier`, {}, [{ field: 'file', fileName: 'plan.pdf', content: Buffer.alloc(MAX_PROPOSAL_FILE_BYTES + 200_000, 0x20) }])).status, 413);
    assert.deepEqual(await rows(), before);
  });

  test('a stranger or a visitor is refused before the body is read; once answered, the author cannot attach', async () => {
    const { p, pr, url } = await setup();
    const s = await signedInBrowser(t.app, depsOf(t.app), stranger, '192.0.2.143');
    await s.get(url);
    const before = await rows();
    // A body far above the limit: refused by the guard (403), not by the body limit (413).
    const big = Buffer.alloc(MAX_PROPOSAL_FILE_BYTES * 2, 0x20);
    assert.equal((await postMultipart(t.app, s, `${url}/fichier`, {}, [{ field: 'file', fileName: 'x.pdf', content: big }])).status, 403);
    assert.equal((await postMultipart(t.app, s, `${url}/fichier`, {}, [{ field: 'file', fileName: 'x.pdf', content: PDF }])).status, 403);
    assert.equal((await s.post(`${url}/fichier/retirer`, {})).status, 403);
    const anon = await t.app.inject({ method: 'POST', url: `${url}/fichier`, payload: big, headers: { 'content-type': 'multipart/form-data; boundary=x' } });
    assert.equal(anon.statusCode, 401);
    assert.equal((await t.app.inject({ method: 'POST', url: `/concertations/${p.slug}/propositions/99999/fichier`, payload: big, headers: { 'content-type': 'multipart/form-data; boundary=x' } })).statusCode, 401);
    assert.deepEqual(await rows(), before);
    await t.db.query(`UPDATE consultation.proposal SET state = 'evaluating' WHERE id = $1`, [pr.id]);
    const b = await signedInBrowser(t.app, depsOf(t.app), author, '192.0.2.144');
    await b.get(url);
    const res = await postMultipart(t.app, b, `${url}/fichier`, {}, [{ field: 'file', fileName: 'plan.pdf', content: PDF }]);
    assert.equal(res.status, 409);
    assert.match(res.body, /ne peut plus être modifiée/);
    assert.deepEqual(await rows(), before);
  });

  test('once proposals are closed (a supports phase), the author can no longer attach, replace or remove the file, as for the text: 409, rows unchanged', async () => {
    const { p, url } = await setup();
    const b = await signedInBrowser(t.app, depsOf(t.app), author, '192.0.2.149');
    await b.get(url);
    assert.equal((await postMultipart(t.app, b, `${url}/fichier`, {}, [{ field: 'file', fileName: 'plan.pdf', content: PDF }])).status, 303);
    assert.match((await b.get(url)).body, /Modifier ma proposition/, 'the edit link while proposals are open');
    await t.db.query('UPDATE consultation.phase SET proposals_open = false, supports_open = true WHERE process_id = $1', [p.id]);
    const page = await b.get(url);
    assert.doesNotMatch(page.body, /Remplacer le fichier/, 'no form offered once proposals are closed');
    assert.doesNotMatch(page.body, /Modifier ma proposition/, 'no edit link once proposals are closed (the server would refuse)');
    assert.match(page.body, /Retirer ma proposition/, 'withdrawing stays possible until it is studied');
    const before = await rows();
    const replaced = await postMultipart(t.app, b, `${url}/fichier`, {}, [{ field: 'file', fileName: 'autre.png', content: PNG }]);
    assert.equal(replaced.status, 409, replaced.body.slice(0, 300));
    assert.match(replaced.body, /n’ouvre pas le dépôt|est fermé/);
    await b.get(url);
    assert.equal((await b.post(`${url}/fichier/retirer`, {})).status, 409);
    assert.deepEqual(await rows(), before);
  });

  test('never in the open-data exports; a hidden proposal’s file: moderators only', async () => {
    const { p, pr, url } = await setup();
    const b = await signedInBrowser(t.app, depsOf(t.app), author, '192.0.2.145');
    await b.get(url);
    assert.equal((await postMultipart(t.app, b, `${url}/fichier`, {}, [{ field: 'file', fileName: 'secret-nominatif.pdf', content: PDF }])).status, 303);
    for (const ext of ['csv', 'json']) {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/consultation/processes/${p.slug}/proposals.${ext}` });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /Une proposition avec un plan/);
      assert.doesNotMatch(res.body, /secret-nominatif|%PDF/);
    }
    await svc.moderate({ db: t.db }, moderator.id, 'proposal', pr.id, 'hide', 'Données personnelles dans le fichier.');
    assert.equal((await t.app.inject({ method: 'GET', url: `${url}/fichier` })).statusCode, 404);
    assert.equal((await b.download(`${url}/fichier`)).status, 404);
    const s = await signedInBrowser(t.app, depsOf(t.app), stranger, '192.0.2.146');
    assert.equal((await s.download(`${url}/fichier`)).status, 404);
    const m = await signedInBrowser(t.app, depsOf(t.app), moderator, '192.0.2.147');
    const got = await m.download(`${url}/fichier`);
    assert.equal(got.status, 200);
    assert.ok(got.bytes.equals(PDF));
    // Hidden: the author can no longer change it either.
    await b.get(url);
    const before = await rows();
    assert.equal((await postMultipart(t.app, b, `${url}/fichier`, {}, [{ field: 'file', fileName: 'autre.pdf', content: PDF }])).status, 409);
    assert.deepEqual(await rows(), before);
  });
});
