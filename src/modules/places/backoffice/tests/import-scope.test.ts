/**
 * Imports through the browser touch only the importer's territory: the places a file updates are
 * checked as they are now (not only as they will be), sources are tied to the territories that
 * feed them, and "replace the source" can be undone from the import's page. Every refusal leaves
 * the rows and the audit trail unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../../test/support/app.ts';
import { accountsTesting, type AccountsDeps } from '../../../accounts/index.ts';
import { csvHeaderLine, toCsvLine } from '../../model/index.ts';
import { addPlace, LYON, postMultipart, record } from './helpers.ts';

const { makeUser, signedInBrowser } = accountsTesting;
type Browser = accountsTesting.Browser;

const ROUEN = { commune: 'Rouen', code_postal: '76000', code_insee: '76540', latitude: 49.4431, longitude: 1.0993 };

describe('browser imports stay in the importer’s territory', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let deps: AccountsDeps;
  let staff69: Browser;
  let ip = 10;
  const nextIp = () => `198.51.100.${ip++}`;
  const snapshot = async () => {
    const places = await t.db.query('SELECT uid, import_source, id, nom, departement, visible, removed_run, content_hash FROM places.place ORDER BY uid');
    const audit = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM platform.audit_entry');
    const sources = await t.db.query('SELECT name, territories FROM places.source ORDER BY name');
    return { places: places.rows, audit: audit.rows[0]!.n, sources: sources.rows };
  };

  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    deps = depsFor();
    const s = await makeUser(deps, 'staff69@example.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '69' }], 'Équipe Rhône');
    staff69 = await signedInBrowser(t.app, deps, s, nextIp());
  });
  after(async () => t.close());
  function depsFor() {
    return accountsTesting.depsFor(t.db, t.ctx.config);
  }

  test('re-importing another territory’s place under its source, moved into mine, is refused and changes nothing', async () => {
    // A place of Seine-Maritime (76) in an undescribed source, and the same source described and
    // tied to 76.
    await addPlace(t.db, record({ id: 'rouen-1', nom: 'Espace numérique Rouen', ...ROUEN, courriels: [] }), 'reseau-76');
    const exported = record({ id: 'rouen-1', nom: 'Renommé par le Rhône', ...LYON, courriels: [] });
    const file = csvHeaderLine() + toCsvLine(exported);
    const before = await snapshot();
    await staff69.get('/gestion/territoires/departement/69/import');
    let res = await postMultipart(t.app, staff69, '/gestion/territoires/departement/69/import', { source: 'reseau-76' }, [{ field: 'file', fileName: 'lieux.csv', content: file }]);
    assert.equal(res.status, 200);
    assert.match(res.body, /existe dans les données sans être décrite/);
    assert.match(res.body, /1 ligne du fichier modifierait des lieux de la source « reseau-76 » situés hors de votre territoire \(ligne 2\)/);
    assert.doesNotMatch(res.body, /name="upload"/);
    await t.db.query(`INSERT INTO places.source (name, label, territories) VALUES ('reseau-76', 'Réseau 76', '{departement:76}')`);
    const tied = await snapshot();
    res = await postMultipart(t.app, staff69, '/gestion/territoires/departement/69/import', { source: 'reseau-76' }, [{ field: 'file', fileName: 'lieux.csv', content: file }]);
    assert.match(res.body, /alimentée depuis d’autres territoires \(departement:76\)/);
    assert.deepEqual(await snapshot(), tied, 'a check writes nothing');
    assert.equal(before.places.length, tied.places.length);
  });

  test('a confirmed upload is checked again in the import’s transaction', async () => {
    // The source is tied to 69, the file's place sits in 69, but between the check and the
    // confirmation the stored place moves to 76 (another team's edit): the import is refused.
    await t.db.query(`INSERT INTO places.source (name, label, territories) VALUES ('reseau-69', 'Réseau 69', '{departement:69}')`);
    await addPlace(t.db, record({ id: 'lyon-1', nom: 'Espace numérique Lyon', ...LYON, courriels: [] }), 'reseau-69');
    const file = csvHeaderLine() + toCsvLine(record({ id: 'lyon-1', nom: 'Espace numérique Lyon 1er', ...LYON, courriels: [] }));
    await staff69.get('/gestion/territoires/departement/69/import');
    let res = await postMultipart(t.app, staff69, '/gestion/territoires/departement/69/import', { source: 'reseau-69' }, [{ field: 'file', fileName: 'lieux.csv', content: file }]);
    const upload = /name="upload" value="([0-9a-f]{32})"/.exec(res.body)![1]!;
    await t.db.query(`UPDATE places.place SET region = '28', departement = '76' WHERE import_source = 'reseau-69' AND id = 'lyon-1'`);
    const before = await snapshot();
    res = await staff69.post('/gestion/territoires/departement/69/import/confirmer', { upload });
    assert.equal(res.status, 400);
    assert.match(res.body, /situés hors de votre territoire/);
    assert.deepEqual(await snapshot(), before, 'no place, run or audit entry written');
    await t.db.query(`UPDATE places.place SET region = '84', departement = '69' WHERE import_source = 'reseau-69' AND id = 'lyon-1'`);
  });

  test('a new source is tied to the importing territory; replace lists, removes and the page undoes', async () => {
    const rows = [1, 2, 3].map((n) => record({ id: `neuf-${n}`, nom: `Point numérique Lyon ${n}`, ...LYON, courriels: [] }));
    await staff69.get('/gestion/territoires/departement/69/import');
    let res = await postMultipart(t.app, staff69, '/gestion/territoires/departement/69/import', { source: 'nouveau-69' }, [{ field: 'file', fileName: 'a.csv', content: csvHeaderLine() + rows.map((r) => toCsvLine(r)).join('') }]);
    let upload = /name="upload" value="([0-9a-f]{32})"/.exec(res.body)![1]!;
    res = await staff69.post('/gestion/territoires/departement/69/import/confirmer', { upload });
    assert.equal(res.status, 200);
    const { rows: src } = await t.db.query<{ territories: string[] }>(`SELECT territories FROM places.source WHERE name = 'nouveau-69'`);
    assert.deepEqual(src[0]!.territories, ['departement:69']);
    const uids = (await t.db.query<{ uid: string }>(`SELECT uid FROM places.place WHERE import_source = 'nouveau-69' ORDER BY id`)).rows.map((r) => r.uid);
    // The next file drops neuf-3: the check lists it; confirming hides it.
    await staff69.get('/gestion/territoires/departement/69/import');
    res = await postMultipart(t.app, staff69, '/gestion/territoires/departement/69/import', { source: 'nouveau-69', replace: '1' }, [{ field: 'file', fileName: 'b.csv', content: csvHeaderLine() + rows.slice(0, 2).map((r) => toCsvLine(r)).join('') }]);
    assert.match(res.body, /1 lieu serait retiré/);
    assert.match(res.body, /<td>neuf-3<\/td><td>Point numérique Lyon 3<\/td>/);
    upload = /name="upload" value="([0-9a-f]{32})"/.exec(res.body)![1]!;
    res = await staff69.post('/gestion/territoires/departement/69/import/confirmer', { upload });
    assert.match(res.body, /1 lieu retiré/);
    const runId = /Import n° (\d+)/.exec(res.body)![1]!;
    assert.deepEqual((await t.db.query(`SELECT visible FROM places.place WHERE uid = $1`, [uids[2]])).rows, [{ visible: false }]);
    const page = await staff69.get(`/gestion/territoires/departement/69/import/${runId}`);
    assert.match(page.body, /<button type="submit">Rétablir le lieu retiré<\/button>/);
    res = await staff69.post(`/gestion/territoires/departement/69/import/${runId}/annuler`, {});
    assert.equal(res.status, 303);
    assert.deepEqual((await t.db.query(`SELECT visible, removed_run FROM places.place WHERE uid = $1`, [uids[2]])).rows, [{ visible: true, removed_run: null }]);
    // Twice: refused, nothing changes.
    await staff69.get(`/gestion/territoires/departement/69/import/${runId}`);
    const before = await snapshot();
    res = await staff69.post(`/gestion/territoires/departement/69/import/${runId}/annuler`, {});
    assert.equal(res.status, 409);
    assert.deepEqual(await snapshot(), before);
  });
});
