/**
 * Pix campaign import through HTTP: the export chosen with a file picker (multipart/form-data) or
 * pasted in the text box. The file is checked (type by name and content, size, UTF-8) with
 * messages naming `file`; the body limit is raised on that route only, and only for the session's
 * managers and staff: anyone else is refused before the body is read. Every refused request
 * leaves the results, the counters and the audit journal as they were.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { postMultipart } from '../../../../test/support/multipart.ts';
import { accountsTesting } from '../../accounts/index.ts';
import * as training from '../training.ts';
import { makePlace } from './support.ts';

const { Browser, depsOf, makeUser, signedInBrowser } = accountsTesting;

describe('mediation: Pix import by file upload (HTTP)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let session: string;
  let url: string;
  const actor = '00000000-0000-4000-8000-00000000bbbb';
  const head = 'Nom du Participant;Prénom du Participant;Adresse e-mail;Niveau pour la compétence 1.1 Mener une recherche et une veille d’information;Niveau pour la compétence 4.1 Sécuriser l’environnement numérique';
  const csvOf = (l1: number, l4: number) => `\ufeff${head}\r\nMartin;Léa;lea@exemple.fr;${l1};${l4}\r\nInconnu;X;inconnu@exemple.fr;2;2\r\n`;

  /** What an import writes: results, counters, audit entries, registrations. */
  const rows = async () => [
    (await t.db.query(`SELECT learner_id, framework, competence, level, session_id FROM mediation.competence_result ORDER BY 1, 2, 3`)).rows,
    (await t.db.query(`SELECT scope, scope_id, month, metric, key, value::text FROM mediation.stat_counter WHERE metric LIKE 'pix_%' ORDER BY 1, 2, 3, 4, 5`)).rows,
    (await t.db.query(`SELECT count(*)::int AS n FROM platform.audit_entry WHERE action = 'training.pix.import'`)).rows,
    (await t.db.query(`SELECT id, status FROM mediation.registration ORDER BY id`)).rows,
  ];
  const levels = async () => (await t.db.query<{ competence: string; level: number }>(
    `SELECT r.competence, r.level FROM mediation.competence_result r JOIN mediation.learner l ON l.id = r.learner_id WHERE l.email_key = 'lea@exemple.fr' AND r.framework = 'crcn' ORDER BY 1`,
  )).rows.map((r) => `${r.competence}:${r.level}`);

  let manager: Awaited<ReturnType<typeof makeUser>>;
  let staff: Awaited<ReturnType<typeof makeUser>>;
  let stranger: Awaited<ReturnType<typeof makeUser>>;
  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    const deps = depsOf(t.app);
    manager = await makeUser(deps, 'pix-gestion@exemple.fr', [], 'Gestionnaire de l’organisme');
    staff = await makeUser(deps, 'pix-staff@exemple.fr', [{ role: 'regional_staff', scopeKind: 'region', scopeId: '28' }], 'Agent');
    stranger = await makeUser(deps, 'pix-autre@exemple.fr', [{ role: 'mediator', scopeKind: 'region', scopeId: '28' }], 'Autre médiatrice');
    const place = await makePlace(t.db, '14118', 'Médiathèque');
    const provider = await training.createProvider(t.ctx, actor, { name: 'Organisme Pix', managerIds: [manager.id] });
    const pathId = await training.createPath(t.ctx, actor, { providerId: provider, title: 'Parcours Pix', modules: training.parseModules('Recherche | 3 | 1.1 | 2') });
    session = await training.createSession(t.ctx, actor, { pathId, startsOn: '2026-10-01', capacity: '5', placeUid: place });
    await training.register(t.ctx, session, { name: 'Léa Martin', email: 'lea@exemple.fr', status: 'resident' }, null);
    url = `/mediation/formations/sessions/${session}/pix`;
  });
  after(async () => t.close());

  test('the session page offers a file picker (multipart form) and keeps the paste box', async () => {
    const b = await signedInBrowser(t.app, depsOf(t.app), manager, '192.0.2.160');
    const page = await b.get(`/mediation/formations/sessions/${session}`);
    assert.equal(page.status, 200);
    assert.match(page.body, new RegExp(`<form[^>]*action="${url}" enctype="multipart/form-data">`));
    assert.match(page.body, /<input type="file" id="f-file" name="file" accept="\.csv,text\/csv" required aria-describedby="f-file-hint">/);
    assert.match(page.body, /<label for="f-file">Fichier exporté de Pix Orga<\/label>/);
    assert.match(page.body, /<textarea id="f-csv" name="csv"/);
  });

  test('a CSV file uploaded by the provider’s manager is imported (levels, counters, audit); the paste box still works', async () => {
    const b = await signedInBrowser(t.app, depsOf(t.app), manager, '192.0.2.161');
    await b.get(`/mediation/formations/sessions/${session}`);
    const audits = async () => (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM platform.audit_entry WHERE action = 'training.pix.import'`)).rows[0]!.n;
    const before = await audits();
    const res = await postMultipart(t.app, b, url, {}, [{ field: 'file', fileName: 'resultats-campagne.csv', content: csvOf(3, 2), type: 'application/vnd.ms-excel' }]);
    assert.equal(res.status, 200, res.body.slice(0, 300));
    assert.match(res.body, /1 résultat importé/);
    assert.match(res.body, /Personnes inconnues aux lignes 3/);
    assert.deepEqual(await levels(), ['1.1:3', '4.1:2']);
    assert.equal(await audits(), before + 1);
    const counters = (await t.db.query<{ key: string }>(`SELECT key FROM mediation.stat_counter WHERE scope = 'departement' AND scope_id = '14' AND metric = 'pix_crcn' AND value > 0 ORDER BY key`)).rows.map((r) => r.key);
    assert.deepEqual(counters, ['1.1:3', '4.1:2']);
    // Staff (training.manage) may upload too; the pasted text (a plain form) is the alternative.
    const s = await signedInBrowser(t.app, depsOf(t.app), staff, '192.0.2.162');
    await s.get(`/mediation/formations/sessions/${session}`);
    const pasted = await s.post(url, { csv: csvOf(4, 2) });
    assert.equal(pasted.status, 200, pasted.body.slice(0, 300));
    assert.deepEqual(await levels(), ['1.1:4', '4.1:2']);
  });

  test('a file of the wrong type, not UTF-8, empty or missing: refused naming the file, nothing written', async () => {
    const b = await signedInBrowser(t.app, depsOf(t.app), manager, '192.0.2.163');
    await b.get(`/mediation/formations/sessions/${session}`);
    const before = await rows();
    const xlsx = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from(csvOf(1, 1))]);
    const cases: [string, { fileName: string; content: Buffer | string; type?: string }[], number, RegExp][] = [
      ['a spreadsheet named .csv', [{ fileName: 'resultats.csv', content: xlsx }], 415, /Fichier : « resultats\.csv » n’est pas un fichier CSV \(son contenu est un classeur XLSX/],
      ['an XLSX', [{ fileName: 'resultats.xlsx', content: xlsx, type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' }], 415, /n’est pas un fichier CSV/],
      ['a PDF', [{ fileName: 'resultats.pdf', content: '%PDF-1.7\n' + csvOf(1, 1), type: 'application/pdf' }], 415, /son contenu est un PDF/],
      ['CSV text under another name', [{ fileName: 'resultats.docx', content: csvOf(1, 1) }], 415, /son nom ne finit pas par \.csv/],
      ['Latin-1 text', [{ fileName: 'resultats.csv', content: Buffer.from(`${head}\r\nMartin;L\xe9a;lea@exemple.fr;1;1\r\n`, 'latin1') }], 400, /n’est pas en UTF-8 \(ligne 1\)/],
      ['an empty file', [{ fileName: 'vide.csv', content: '' }], 400, /Fichier : « vide\.csv » est vide/],
      ['no file at all', [], 400, /choisissez le fichier CSV exporté de Pix Orga, ou collez son contenu/],
      ['a file without the e-mail column', [{ fileName: 'autre.csv', content: 'Nom;Prénom\r\nA;B\r\n' }], 400, /Colonne de l’adresse e-mail introuvable/],
    ];
    for (const [what, files, status, message] of cases) {
      const res = await postMultipart(t.app, b, url, {}, files.map((f) => ({ field: 'file', type: 'text/csv', ...f })));
      assert.equal(res.status, status, `${what}: ${res.body.slice(0, 300)}`);
      assert.match(res.body, /class="err-summary" role="alert"/, what);
      assert.match(res.body, message, what);
      // The message is on the file picker (linked from the summary, described by it).
      assert.match(res.body, /<a href="#f-file">/, what);
      assert.match(res.body, /<span class="err" id="e-file">/, what);
      assert.match(res.body, /<input type="file" id="f-file" name="file" accept="\.csv,text\/csv" required aria-describedby="e-file f-file-hint" aria-invalid="true">/, what);
      assert.deepEqual(await rows(), before, what);
    }
    // A pasted text refused the same way: the message is on the paste box, shown open.
    const pasted = await b.post(url, { csv: 'Nom;Prénom\r\nA;B\r\n' });
    assert.equal(pasted.status, 400);
    assert.match(pasted.body, /<details open><summary>Ou coller le contenu du fichier/);
    assert.match(pasted.body, /<span class="err" id="e-csv">Colonne de l’adresse e-mail introuvable/);
    assert.match(pasted.body, /<textarea id="f-csv" name="csv" rows="6" required aria-invalid="true" aria-describedby="e-csv">/);
    assert.deepEqual(await rows(), before);
    // Without the CSRF token: refused, nothing written.
    assert.equal((await postMultipart(t.app, b, url, {}, [{ field: 'file', fileName: 'resultats.csv', content: csvOf(1, 1) }], { csrf: false })).status, 403);
    assert.deepEqual(await rows(), before);
  });

  test('too big: over 5 MB refused naming the file (413), over the route’s body limit refused before parsing', async () => {
    const b = await signedInBrowser(t.app, depsOf(t.app), manager, '192.0.2.164');
    await b.get(`/mediation/formations/sessions/${session}`);
    const before = await rows();
    // A valid export padded past 5 MB (blank lines are skipped by the parser, so only the size refuses it).
    const big = csvOf(1, 1) + '\r\n'.repeat((training.PIX_MAX_BYTES - csvOf(1, 1).length) / 2 + 10);
    const res = await postMultipart(t.app, b, url, {}, [{ field: 'file', fileName: 'resultats.csv', content: big }]);
    assert.equal(res.status, 413, res.body.slice(0, 300));
    assert.match(res.body, /Fichier trop gros \(5 Mo au plus\)/);
    assert.deepEqual(await rows(), before);
    // Above the route's body limit (raised for this route only): the server refuses to read it.
    const huge = await postMultipart(t.app, b, url, {}, [{ field: 'file', fileName: 'resultats.csv', content: Buffer.alloc(3 * training.PIX_MAX_BYTES + 128 * 1024, 0x3b) }]);
    assert.equal(huge.status, 413);
    assert.match(huge.body, /trop volumineuse/);
    assert.deepEqual(await rows(), before);
    // Just under 5 MB is read and imported.
    const fits = csvOf(2, 1) + '\r\n'.repeat((training.PIX_MAX_BYTES - csvOf(2, 1).length - 1000) / 2);
    const ok = await postMultipart(t.app, b, url, {}, [{ field: 'file', fileName: 'resultats.csv', content: fits }]);
    assert.equal(ok.status, 200, ok.body.slice(0, 300));
    assert.deepEqual(await levels(), ['1.1:2', '4.1:1']);
  });

  test('a stranger or a visitor is refused before the body is read, with every row unchanged', async () => {
    const before = await rows();
    const s = await signedInBrowser(t.app, depsOf(t.app), stranger, '192.0.2.165');
    await s.get('/mediation');
    // A body far above the route's limit: refused by the guard (403), not by the body limit (413).
    const far = Buffer.alloc(4 * training.PIX_MAX_BYTES, 0x3b);
    const big = await postMultipart(t.app, s, url, {}, [{ field: 'file', fileName: 'resultats.csv', content: far }]);
    assert.equal(big.status, 403);
    const small = await postMultipart(t.app, s, url, {}, [{ field: 'file', fileName: 'resultats.csv', content: csvOf(8, 8) }]);
    assert.equal(small.status, 403);
    assert.equal((await s.post(url, { csv: csvOf(8, 8) })).status, 403);
    // A malformed body is not even looked at: the refusal comes first.
    const visitor = new Browser(t.app, '192.0.2.166');
    const anon = await t.app.inject({ method: 'POST', url, remoteAddress: visitor.ip, payload: far, headers: { accept: 'text/html', 'content-type': 'multipart/form-data; boundary=x' } });
    assert.equal(anon.statusCode, 401);
    const broken = await t.app.inject({ method: 'POST', url, remoteAddress: visitor.ip, payload: 'pas du multipart', headers: { 'content-type': 'multipart/form-data; boundary=x' } });
    assert.equal(broken.statusCode, 401);
    // A session that does not exist: 404 before the body is read too.
    const m = await signedInBrowser(t.app, depsOf(t.app), manager, '192.0.2.167');
    await m.get(`/mediation/formations/sessions/${session}`);
    const missing = await postMultipart(t.app, m, '/mediation/formations/sessions/00000000-0000-4000-8000-000000000000/pix', {}, [{ field: 'file', fileName: 'resultats.csv', content: far }]);
    assert.equal(missing.status, 404);
    assert.deepEqual(await rows(), before);
    assert.deepEqual(await levels(), ['1.1:2', '4.1:1']);
  });
});
