/**
 * Import of past activity records through HTTP: the CSV chosen with a file picker
 * (multipart/form-data) or pasted in the text box. The file is checked (type by name and content,
 * size, UTF-8) with messages naming `file`; the body limit is raised on that route only, and only for
 * mediators: anyone else is refused before the body is read. Every refused request leaves the
 * activities, beneficiaries and counters as they were.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { postMultipart } from '../../../../test/support/multipart.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { MAX_IMPORT_BYTES } from '../imports.ts';
import { snapshot } from './support.ts';

const { Browser, depsOf, makeUser, signedInBrowser } = accountsTesting;

describe('mediation: import of past activities by file upload (HTTP)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  const url = '/mediation/import';
  const head = 'date;duree;activite;nb_participants;code_commune;themes;age_moins_12;age_12_18;age_18_35;age_35_60;age_plus_60;statut_etudiant;statut_sans_emploi;statut_en_emploi;statut_retraite;statut_heterogene;accompagnement_redirection';
  const cra = (day: number) => `${head}\r\n2022-03-${String(day).padStart(2, '0')};30-60;collectif;8;76540;courriel,internet;0;0;2;3;3;0;2;3;3;0;non\r\n`;
  const coop = 'Date,Type,Durée,Commune,Thématiques,Thématiques démarches administratives,Nombre de participants,Autonomie\r\n2023-05-03,Atelier collectif,120,14118,Bureautique,,6,\r\n';
  let mediator: Awaited<ReturnType<typeof makeUser>>;
  let other: Awaited<ReturnType<typeof makeUser>>;
  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    const deps = depsOf(t.app);
    mediator = await makeUser(deps, 'import-med@exemple.fr', [{ role: 'mediator', scopeKind: 'region', scopeId: '28' }], 'Médiatrice');
    other = await makeUser(deps, 'import-autre@exemple.fr', [], 'Personne sans rôle');
  });
  after(async () => t.close());
  const mine = async () => (await t.db.query<{ date: string; participants: number }>(`SELECT date::text AS date, participants FROM mediation.activity WHERE mediator_id = $1 ORDER BY date`, [mediator.id])).rows.map((r) => `${r.date}:${r.participants}`);

  test('the page offers a file picker (multipart form) and keeps the paste box', async () => {
    const b = await signedInBrowser(t.app, depsOf(t.app), mediator, '192.0.2.170');
    const page = await b.get(url);
    assert.equal(page.status, 200);
    assert.match(page.body, /<form class="med-form" method="post" action="\/mediation\/import" enctype="multipart\/form-data">/);
    assert.match(page.body, /<label for="f-file">Fichier CSV<\/label>/);
    assert.match(page.body, /<input type="file" id="f-file" name="file" accept="\.csv,text\/csv" required aria-describedby="f-file-hint">/);
    assert.match(page.body, /<textarea id="f-csv" name="csv"/);
  });

  test('a CRA file and a Coop file uploaded by a mediator are imported; a second upload records nothing; the paste box still works', async () => {
    const b = await signedInBrowser(t.app, depsOf(t.app), mediator, '192.0.2.171');
    await b.get(url);
    const res = await postMultipart(t.app, b, url, { format: 'cnfs' }, [{ field: 'file', fileName: 'cra-2022.csv', content: cra(12), type: 'application/vnd.ms-excel' }]);
    assert.equal(res.status, 200, res.body.slice(0, 400));
    assert.match(res.body, /1 activité enregistrée, 0 déjà importée, 0 ligne refusée/);
    const again = await postMultipart(t.app, b, url, { format: 'cnfs' }, [{ field: 'file', fileName: 'cra-2022.csv', content: cra(12) }]);
    assert.match(again.body, /0 activité enregistrée, 1 déjà importée/);
    const c = await postMultipart(t.app, b, url, { format: 'coop' }, [{ field: 'file', fileName: 'export-coop.csv', content: `\ufeff${coop}` }]);
    assert.equal(c.status, 200, c.body.slice(0, 400));
    assert.match(c.body, /1 activité enregistrée/);
    const pasted = await b.post(url, { format: 'cnfs', csv: cra(13) });
    assert.equal(pasted.status, 200, pasted.body.slice(0, 300));
    assert.deepEqual(await mine(), ['2022-03-12:8', '2022-03-13:8', '2023-05-03:6']);
  });

  test('a file of the wrong type, not UTF-8, empty, missing or without the columns: refused naming the file, nothing written', async () => {
    const b = await signedInBrowser(t.app, depsOf(t.app), mediator, '192.0.2.172');
    await b.get(url);
    const before = await snapshot(t.db);
    const xlsx = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from(cra(20))]);
    const cases: [string, { fileName: string; content: Buffer | string; type?: string }[], number, RegExp][] = [
      ['a spreadsheet named .csv', [{ fileName: 'cra.csv', content: xlsx }], 415, /Fichier : « cra\.csv » n’est pas un fichier CSV \(son contenu est un classeur XLSX/],
      ['a PDF', [{ fileName: 'cra.pdf', content: '%PDF-1.7\n' + cra(20) }], 415, /son contenu est un PDF/],
      ['CSV text under another name', [{ fileName: 'cra.docx', content: cra(20) }], 415, /son nom ne finit pas par \.csv/],
      ['Latin-1 text', [{ fileName: 'cra.csv', content: Buffer.from(`${head}\r\n2022-03-20;30-60;collectif;8;76540;t\xe9l\xe9phone;0;0;2;3;3;0;2;3;3;0;non\r\n`, 'latin1') }], 400, /n’est pas en UTF-8 \(ligne 2\)/],
      ['an empty file', [{ fileName: 'vide.csv', content: '' }], 400, /Fichier : « vide\.csv » est vide/],
      ['no file at all', [], 400, /choisissez le fichier CSV à importer, ou collez son contenu/],
      ['a file without the columns', [{ fileName: 'autre.csv', content: 'a;b\r\n1;2\r\n' }], 400, /Colonnes manquantes : date, duree, activite, themes/],
    ];
    for (const [what, files, status, message] of cases) {
      const res = await postMultipart(t.app, b, url, { format: 'cnfs' }, files.map((f) => ({ field: 'file', type: 'text/csv', ...f })));
      assert.equal(res.status, status, `${what}: ${res.body.slice(0, 300)}`);
      assert.match(res.body, /class="err-summary" role="alert"/, what);
      assert.match(res.body, message, what);
      assert.match(res.body, /<input type="file" id="f-file" name="file" accept="\.csv,text\/csv" required aria-describedby="e-file f-file-hint" aria-invalid="true">/, what);
      assert.deepEqual(await snapshot(t.db), before, what);
    }
    // A pasted text refused: the message is on the paste box, shown open.
    const pasted = await b.post(url, { format: 'cnfs', csv: 'a;b\r\n1;2\r\n' });
    assert.equal(pasted.status, 400);
    assert.match(pasted.body, /<details open><summary>Ou coller le contenu du fichier/);
    assert.match(pasted.body, /<span class="err" id="e-csv">Colonnes manquantes/);
    // Without the CSRF token: refused, nothing written.
    assert.equal((await postMultipart(t.app, b, url, { format: 'cnfs' }, [{ field: 'file', fileName: 'cra.csv', content: cra(21) }], { csrf: false })).status, 403);
    assert.deepEqual(await snapshot(t.db), before);
  });

  test('the same file uploaded 50 times at once records its activity once', async () => {
    const browsers = await Promise.all(Array.from({ length: 50 }, (_, i) => signedInBrowser(t.app, depsOf(t.app), mediator, `198.51.100.${i + 1}`)));
    await Promise.all(browsers.map((b) => b.get(url)));
    const answers = await Promise.all(browsers.map((b) => postMultipart(t.app, b, url, { format: 'cnfs' }, [{ field: 'file', fileName: 'cra.csv', content: cra(25) }])));
    assert.ok(answers.every((r) => r.status === 200), answers.map((r) => r.status).join(','));
    assert.equal(answers.filter((r) => /1 activité enregistrée/.test(r.body)).length, 1);
    assert.equal((await mine()).filter((x) => x === '2022-03-25:8').length, 1);
  });

  test('over 20 MB: refused naming the file (413); over the route’s body limit: refused before parsing', async () => {
    const b = await signedInBrowser(t.app, depsOf(t.app), mediator, '192.0.2.173');
    await b.get(url);
    const before = await snapshot(t.db);
    const big = cra(22) + '\r\n'.repeat((MAX_IMPORT_BYTES - cra(22).length) / 2 + 10);
    const res = await postMultipart(t.app, b, url, { format: 'cnfs' }, [{ field: 'file', fileName: 'cra.csv', content: big }]);
    assert.equal(res.status, 413, res.body.slice(0, 300));
    assert.match(res.body, /Fichier trop gros \(20 Mo au plus\)/);
    const huge = await postMultipart(t.app, b, url, { format: 'cnfs' }, [{ field: 'file', fileName: 'cra.csv', content: Buffer.alloc(3 * MAX_IMPORT_BYTES + 128 * 1024, 0x3b) }]);
    assert.equal(huge.status, 413);
    assert.deepEqual(await snapshot(t.db), before);
    // A 1.5 MB file (over the site's default 1 MiB body limit) is read and imported.
    const fits = cra(23) + '\r\n'.repeat(750_000);
    const ok = await postMultipart(t.app, b, url, { format: 'cnfs' }, [{ field: 'file', fileName: 'cra.csv', content: fits }]);
    assert.equal(ok.status, 200, ok.body.slice(0, 300));
    assert.ok((await mine()).includes('2022-03-23:8'));
  });

  test('someone without the mediator role, or a visitor, is refused before the body is read, with every row unchanged', async () => {
    const before = await snapshot(t.db);
    const s = await signedInBrowser(t.app, depsOf(t.app), other, '192.0.2.174');
    const far = Buffer.alloc(4 * MAX_IMPORT_BYTES, 0x3b);
    const big = await postMultipart(t.app, s, url, { format: 'cnfs' }, [{ field: 'file', fileName: 'cra.csv', content: far }]);
    assert.equal(big.status, 403);
    assert.equal((await postMultipart(t.app, s, url, { format: 'cnfs' }, [{ field: 'file', fileName: 'cra.csv', content: cra(24) }])).status, 403);
    const visitor = new Browser(t.app, '192.0.2.175');
    const anon = await t.app.inject({ method: 'POST', url, remoteAddress: visitor.ip, payload: far, headers: { accept: 'text/html', 'content-type': 'multipart/form-data; boundary=x' } });
    assert.ok([401, 403].includes(anon.statusCode), String(anon.statusCode));
    assert.deepEqual(await snapshot(t.db), before);
  });
});
