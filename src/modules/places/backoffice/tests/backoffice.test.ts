/**
 * The places back office through real HTTP forms (app.inject with a cookie jar and CSRF tokens):
 * claims, edits validated by the standard, opening hours, moderation, versions and restore,
 * duplicates, import with errors, sources, error reports; each change audited.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../../test/support/app.ts';
import { listAudit, verifyAudit } from '../../../../platform/audit/index.ts';
import { readOutbox } from '../../../accounts/index.ts';
import { accountsTesting, type AccountsDeps } from '../../../accounts/index.ts';

const { Browser, depsFor, makeUser, signedInBrowser } = accountsTesting;
type Browser = accountsTesting.Browser;
import { getPlace } from '../../service.ts';
import { csvHeaderLine, toCsvLine } from '../../model/index.ts';
import { LYON, addPlace, postMultipart, record } from './helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, '..', '..', 'tests', 'fixtures');

describe('places back office', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let deps: AccountsDeps;
  let uid: string; // a place in Évreux (département 27, région 28)
  let lyon: string; // a place in Lyon (département 69, région 84)
  let staff: Browser; // regional staff of département 27
  let admin: Browser;
  let ip = 10;
  const nextIp = () => `198.51.100.${ip++}`;

  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    deps = depsFor(t.db, t.ctx.config);
    uid = await addPlace(t.db, record({ id: 'bo-mediatheque', nom: 'Médiathèque Rolland-Plaisance' }));
    lyon = await addPlace(t.db, record({ id: 'bo-lyon', nom: 'Espace numérique Lyon', ...LYON, courriels: ['contact@lyon.example.org'] }));
    const s = await makeUser(deps, 'staff27@example.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '27' }], 'Équipe Eure');
    staff = await signedInBrowser(t.app, deps, s, nextIp());
    const a = await makeUser(deps, 'admin@example.fr', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }], 'Admin');
    admin = await signedInBrowser(t.app, deps, a, nextIp());
  });
  after(async () => t.close());

  test('a structure claims its place through a link e-mailed to the place’s address', async () => {
    const user = await makeUser(deps, 'camille@example.fr', [], 'Camille');
    const b = await signedInBrowser(t.app, deps, user, nextIp());
    // Not a manager yet.
    assert.equal((await b.get(`/gestion/lieux/${uid}`)).status, 403);
    const search = await b.get('/gestion/lieux/revendiquer?q=Rolland');
    assert.match(search.body, new RegExp(`/gestion/lieux/${uid}/revendiquer`));
    const form = await b.get(`/gestion/lieux/${uid}/revendiquer`);
    assert.equal(form.status, 200);
    assert.match(form.body, /accueil@mediatheque\.example\.org/);
    // An address that is not the place's own is refused.
    let res = await b.post(`/gestion/lieux/${uid}/revendiquer`, { method: 'email', email: 'moi@ailleurs.example.org' });
    assert.equal(res.status, 400);
    assert.match(res.body, /adresses e-mail de la fiche/);
    res = await b.post(`/gestion/lieux/${uid}/revendiquer`, { method: 'email', email: 'accueil@mediatheque.example.org' });
    assert.equal(res.status, 303);
    const [mail] = await readOutbox(t.db, 'accueil@mediatheque.example.org');
    assert.ok(mail, 'a confirmation mail went to the place');
    assert.match(mail.body, /Camille \(camille@example\.fr\) demande à gérer la fiche « Médiathèque Rolland-Plaisance »/);
    const link = /https?:\/\/\S+(\/gestion\/revendications\/confirmer\/\S+)/.exec(mail.body)![1]!;
    // The holder of the mailbox confirms, without an account.
    const mailbox = new Browser(t.app, nextIp());
    const confirm = await mailbox.get(link);
    assert.equal(confirm.status, 200);
    assert.match(confirm.body, /Camille \(camille@example\.fr\) demande à gérer/);
    const done = await mailbox.post(link, {});
    assert.equal(done.status, 200);
    assert.match(done.body, /Demande confirmée/);
    // Once only.
    assert.equal((await new Browser(t.app, nextIp()).get(link)).status, 410);
    // Camille now manages the place (and only it).
    const fresh = await signedInBrowser(t.app, deps, user, nextIp());
    assert.equal((await fresh.get(`/gestion/lieux/${uid}`)).status, 200);
    assert.equal((await fresh.get(`/gestion/lieux/${lyon}`)).status, 403);
    assert.match((await fresh.get('/gestion/lieux')).body, /Médiathèque Rolland-Plaisance/);
    const audit = await listAudit(t.db, { objectType: 'place', objectId: uid });
    assert.ok(audit.some((e) => e.action === 'places.claim.create'));
    assert.ok(audit.some((e) => e.action === 'places.claim.verify' && (e.after as { user: string }).user === user.id));
  });

  test('a claim without a usable address is approved by the territory’s staff', async () => {
    const user = await makeUser(deps, 'dominique@example.fr', [], 'Dominique');
    const b = await signedInBrowser(t.app, deps, user, nextIp());
    await b.get(`/gestion/lieux/${uid}/revendiquer`);
    let res = await b.post(`/gestion/lieux/${uid}/revendiquer`, { method: 'staff', message: 'court' });
    assert.equal(res.status, 400);
    assert.match(res.body, /href="#f-message"/);
    res = await b.post(`/gestion/lieux/${uid}/revendiquer`, { method: 'staff', message: 'Je coordonne les ateliers numériques de la médiathèque.' });
    assert.equal(res.status, 303);
    // Twice is refused.
    await b.get(`/gestion/lieux/${uid}/revendiquer`);
    assert.equal((await b.post(`/gestion/lieux/${uid}/revendiquer`, { method: 'staff', message: 'Je coordonne les ateliers numériques.' })).status, 409);
    const dash = await staff.get('/gestion/territoires/departement/27');
    assert.equal(dash.status, 200);
    assert.match(dash.body, /<strong>1<\/strong> demandes de gestion en attente/);
    const list = await staff.get('/gestion/territoires/departement/27/revendications');
    assert.match(list.body, /Dominique &lt;dominique@example\.fr&gt;/);
    assert.match(list.body, /Je coordonne les ateliers numériques de la médiathèque\./);
    const id = /\/gestion\/revendications\/(\d+)\/decision/.exec(list.body)![1]!;
    res = await staff.post(`/gestion/revendications/${id}/decision`, { decision: 'approve', note: 'Vérifié par téléphone' });
    assert.equal(res.status, 303);
    const fresh = await signedInBrowser(t.app, deps, user, nextIp());
    assert.equal((await fresh.get(`/gestion/lieux/${uid}/modifier`)).status, 200);
    // Staff of another département cannot see or decide it.
    const other = await makeUser(deps, 'staff69@example.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '69' }]);
    const ob = await signedInBrowser(t.app, deps, other, nextIp());
    assert.equal((await ob.get('/gestion/territoires/departement/27/revendications')).status, 403);
  });

  test('edits are validated exactly as the standard does, with labels, and kept as versions', async () => {
    const m = await makeUser(deps, 'manager1@example.fr', [{ role: 'place_manager', scopeKind: 'place', scopeId: uid }]);
    const b = await signedInBrowser(t.app, deps, m, nextIp());
    const form = await b.get(`/gestion/lieux/${uid}/modifier`);
    assert.equal(form.status, 200);
    // Humanised labels of the standard's values, the stored values as the checkbox values.
    assert.match(form.body, /value="Accès internet et matériel informatique" checked/);
    assert.match(form.body, /<label for="f-nom">Nom \(obligatoire\)<\/label>/);
    const current = (await getPlace(t.db, uid))!;
    const base = {
      nom: current.nom, pivot: current.pivot, structure_parente: '', adresse: current.adresse, complement_adresse: '', code_postal: current.code_postal,
      commune: current.commune, code_insee: current.code_insee ?? '', latitude: String(current.latitude), longitude: String(current.longitude), telephone: '02 32 78 70 00',
      courriels: 'accueil@mediatheque.example.org', site_web: '', prise_rdv: '', fiche_acces_libre: '', presentation_resume: 'Ordinateurs en libre accès.',
      presentation_detail: '', autres_formations_labels: '', source: 'Tests', services: 'Accès internet et matériel informatique', frais_a_charge: 'Gratuit', typologie: 'BIB',
    };
    // Refused as an import would refuse the row: the message names the field.
    let res = await b.post(`/gestion/lieux/${uid}/modifier`, { ...base, code_postal: '27 0000', nom: '' });
    assert.equal(res.status, 400);
    assert.match(res.body, /<a href="#f-code_postal">Code postal : « 27 0000 » n&#39;est pas un code postal/);
    assert.match(res.body, /<a href="#f-nom">Nom : champ obligatoire vide ou absent\./);
    assert.match(res.body, /id="f-code_postal" name="code_postal" type="text" value="27 0000" aria-describedby="f-code_postal-hint f-code_postal-error" aria-invalid="true"/);
    assert.equal((await getPlace(t.db, uid))!.nom, 'Médiathèque Rolland-Plaisance');
    res = await b.post(`/gestion/lieux/${uid}/modifier`, { ...base, nom: 'Médiathèque Rolland-Plaisance (Évreux)', services: 'Aide aux démarches administratives' });
    assert.equal(res.status, 303);
    assert.equal(res.location, `/gestion/lieux/${uid}?ok=published`);
    const after = (await getPlace(t.db, uid))!;
    assert.equal(after.nom, 'Médiathèque Rolland-Plaisance (Évreux)');
    assert.deepEqual(after.services, ['Aide aux démarches administratives']);
    assert.equal(after.telephone, '+33232787000', 'the phone is normalised as the standard wants');
    assert.equal(after.date_maj, new Date().toLocaleDateString('sv-SE', { timeZone: 'Europe/Paris' }));
    const versions = await b.get(`/gestion/lieux/${uid}/versions`);
    assert.match(versions.body, /État avant la première modification/);
    assert.match(versions.body, /Modification/);
    const audit = (await listAudit(t.db, { objectType: 'place', objectId: uid })).find((e) => e.action === 'places.update')!;
    assert.equal((audit.before as { nom: string }).nom, 'Médiathèque Rolland-Plaisance');
    assert.equal((audit.after as { nom: string }).nom, 'Médiathèque Rolland-Plaisance (Évreux)');
  });

  test('the opening-hours editor writes valid OSM opening_hours, with exceptions, and reads it back', async () => {
    const m = await makeUser(deps, 'manager2@example.fr', [{ role: 'place_manager', scopeKind: 'place', scopeId: uid }]);
    const b = await signedInBrowser(t.app, deps, m, nextIp());
    const page = await b.get(`/gestion/lieux/${uid}/horaires`);
    assert.equal(page.status, 200);
    assert.match(page.body, /id="f-Mo_1_from" name="Mo_1_from" type="time" value="09:00"/);
    const week: Record<string, string> = {};
    for (const d of ['Mo', 'Tu', 'We', 'Th', 'Fr']) Object.assign(week, { [`${d}_1_from`]: '09:00', [`${d}_1_to`]: '12:00', [`${d}_2_from`]: '14:00', [`${d}_2_to`]: '17:30' });
    // A closing time before the opening time is refused, named by day and range.
    let res = await b.post(`/gestion/lieux/${uid}/horaires`, { mode: 'editor', ...week, Sa_1_from: '12:00', Sa_1_to: '09:00', exceptions: '4' });
    assert.equal(res.status, 400);
    assert.match(res.body, /Samedi, plage 1 : la fermeture \(09:00\) doit suivre l’ouverture \(12:00\)/);
    res = await b.post(`/gestion/lieux/${uid}/horaires`, {
      mode: 'editor', ...week, Sa_1_from: '9h', Sa_1_to: '12h', ph_off: '1', exceptions: '4',
      ex1_date: '2026-12-25', ex1_closed: '1', ex2_date: '2026-12-24', ex2_1_from: '09:00', ex2_1_to: '12:00',
    });
    assert.equal(res.status, 303);
    const p = (await getPlace(t.db, uid))!;
    assert.equal(p.horaires, 'Mo-Fr 09:00-12:00,14:00-17:30; Sa 09:00-12:00; PH off; 2026 Dec 24 09:00-12:00; 2026 Dec 25 off');
    const back = await b.get(`/gestion/lieux/${uid}/horaires`);
    assert.match(back.body, /name="Fr_2_to" type="time" value="17:30"/);
    assert.match(back.body, /name="ex1_date" type="date" value="2026-12-24"/);
    assert.match(back.body, /id="f-ph_off" name="ph_off" value="1" checked/);
    // Advanced input is checked by the standard's validator too.
    res = await b.post(`/gestion/lieux/${uid}/horaires`, { mode: 'raw', horaires: 'tous les jours sauf les fériés' });
    assert.equal(res.status, 400);
    assert.match(res.body, /Horaires/);
  });

  test('in a moderated territory, managers’ edits wait for a moderator; staff approve or reject them', async () => {
    let res = await staff.submit('/gestion/territoires/departement/27/moderation', '/gestion/territoires/departement/27/moderation/reglage', { moderated: 'on' });
    assert.equal(res.status, 303);
    const m = await makeUser(deps, 'manager3@example.fr', [{ role: 'place_manager', scopeKind: 'place', scopeId: uid }]);
    const b = await signedInBrowser(t.app, deps, m, nextIp());
    const before = (await getPlace(t.db, uid))!;
    res = await b.submit(`/gestion/lieux/${uid}/horaires`, `/gestion/lieux/${uid}/horaires`, { mode: 'raw', horaires: 'Mo-Sa 10:00-18:00' });
    assert.equal(res.location, `/gestion/lieux/${uid}?ok=pending`);
    assert.equal((await getPlace(t.db, uid))!.horaires, before.horaires, 'not live yet');
    const queue = await staff.get('/gestion/territoires/departement/27/moderation');
    const id = /\/gestion\/modifications\/(\d+)/.exec(queue.body)![1]!;
    const review = await staff.get(`/gestion/modifications/${id}`);
    assert.match(review.body, /Mo-Sa 10:00-18:00/);
    // Managers cannot moderate.
    assert.equal((await b.get(`/gestion/modifications/${id}`)).status, 403);
    res = await staff.post(`/gestion/modifications/${id}/decision`, { decision: 'approve' });
    assert.equal(res.status, 303);
    assert.equal((await getPlace(t.db, uid))!.horaires, 'Mo-Sa 10:00-18:00');
    // A rejected edit never goes live.
    res = await b.submit(`/gestion/lieux/${uid}/horaires`, `/gestion/lieux/${uid}/horaires`, { mode: 'raw', horaires: 'Mo 10:00-11:00' });
    const id2 = /\/gestion\/modifications\/(\d+)/.exec((await staff.get('/gestion/territoires/departement/27/moderation')).body)![1]!;
    await staff.get(`/gestion/modifications/${id2}`);
    await staff.post(`/gestion/modifications/${id2}/decision`, { decision: 'reject', note: 'Horaires incomplets' });
    assert.equal((await getPlace(t.db, uid))!.horaires, 'Mo-Sa 10:00-18:00');
    // Staff edits are published at once.
    res = await staff.submit(`/gestion/lieux/${uid}/horaires`, `/gestion/lieux/${uid}/horaires`, { mode: 'raw', horaires: 'Mo-Fr 09:00-17:00' });
    assert.equal(res.location, `/gestion/lieux/${uid}?ok=published`);
    await staff.submit('/gestion/territoires/departement/27/moderation', '/gestion/territoires/departement/27/moderation/reglage', { moderated: 'off' });
    const actions = (await listAudit(t.db, { objectType: 'place', objectId: uid })).map((e) => e.action);
    for (const a of ['places.edit.submit', 'places.edit.approve', 'places.edit.reject']) assert.ok(actions.includes(a), a);
    assert.ok((await listAudit(t.db, { objectType: 'territory', objectId: 'departement:27' })).some((e) => e.action === 'places.moderation.setting'));
  });

  test('every version is kept with its diff; one click restores one', async () => {
    const page = await staff.get(`/gestion/lieux/${uid}/versions`);
    const versions = [...page.body.matchAll(/\/gestion\/lieux\/[^/]+\/versions\/(\d+)\/restaurer/g)].map((m) => Number(m[1]));
    const first = Math.min(...versions);
    const diff = await staff.get(`/gestion/lieux/${uid}/versions/${first}`);
    assert.equal(diff.status, 200);
    assert.match(diff.body, /Différences avec la fiche en ligne/);
    assert.match(diff.body, /class="diff-after"><pre class="value">Médiathèque Rolland-Plaisance<\/pre>/);
    const res = await staff.post(`/gestion/lieux/${uid}/versions/${first}/restaurer`, {});
    assert.equal(res.location, `/gestion/lieux/${uid}?ok=restored`);
    const p = (await getPlace(t.db, uid))!;
    assert.equal(p.nom, 'Médiathèque Rolland-Plaisance');
    assert.equal(p.horaires, 'Mo-Fr 09:00-17:00');
    assert.ok((await listAudit(t.db, { objectType: 'place', objectId: uid })).some((e) => e.action === 'places.restore'));
  });

  test('duplicates: merge with a field-by-field choice, or mark “not a duplicate”', async () => {
    const a = await addPlace(t.db, record({ id: 'dup-a', nom: 'Espace public numérique de la Madeleine', adresse: '2 rue Hyacinthe Langlois', telephone: '+33232000001', courriels: [] }), 'source-a');
    const b2 = await addPlace(t.db, record({ id: 'dup-b', nom: 'Espace public numerique de la Madeleine', adresse: '2 rue H. Langlois', telephone: '+33232000002', latitude: 49.0253, courriels: [] }), 'source-b');
    const queue = await staff.get('/gestion/territoires/departement/27/doublons');
    assert.match(queue.body, new RegExp(`/gestion/doublons/(${a}/${b2}|${b2}/${a})`));
    const [x, y] = a < b2 ? [a, b2] : [b2, a];
    const compare = await staff.get(`/gestion/doublons/${x}/${y}`);
    assert.equal(compare.status, 200);
    assert.match(compare.body, /name="field_telephone"/);
    // Keep A, take B's telephone.
    const side = x === a ? 'b' : 'a';
    const res = await staff.post(`/gestion/doublons/${x}/${y}/fusion`, { keep: x === a ? 'a' : 'b', field_telephone: side, field_adresse: x === a ? 'a' : 'b', field_nom: x === a ? 'a' : 'b' });
    assert.equal(res.status, 303);
    const kept = (await getPlace(t.db, a))!;
    assert.equal(kept.telephone, '+33232000002');
    assert.equal(kept.adresse, '2 rue Hyacinthe Langlois');
    assert.equal((await getPlace(t.db, b2))!.visible, false);
    assert.ok((await listAudit(t.db, { objectType: 'place', objectId: a })).some((e) => e.action === 'places.merge'));
    // Not a duplicate: never proposed again.
    const c = await addPlace(t.db, record({ id: 'dup-c', nom: 'Atelier numérique Saint-Michel', courriels: [] }), 'source-a');
    const d = await addPlace(t.db, record({ id: 'dup-d', nom: 'Atelier numerique Saint Michel', latitude: 49.0253, courriels: [] }), 'source-b');
    const [p, q] = c < d ? [c, d] : [d, c];
    assert.match((await staff.get('/gestion/territoires/departement/27/doublons')).body, new RegExp(`/gestion/doublons/${p}/${q}`));
    await staff.get(`/gestion/doublons/${p}/${q}`);
    assert.equal((await staff.post(`/gestion/doublons/${p}/${q}/pas-un-doublon`, {})).status, 303);
    assert.doesNotMatch((await staff.get('/gestion/territoires/departement/27/doublons')).body, new RegExp(`/gestion/doublons/${p}/${q}`));
    // A pair with a place outside the staff's territory is refused.
    assert.equal((await staff.get(`/gestion/doublons/${p}/${lyon}`)).status, 403);
  });

  test('import through the browser: validation report with the faulty lines, confirm, result, history', async () => {
    const rows3 = [1, 2, 3].map((n) => record({ id: `imp-${n}`, nom: `Point numérique ${n}`, courriels: [] }));
    const broken = csvHeaderLine() + rows3.map((r, i) => toCsvLine(i === 1 ? { ...r, code_postal: 'ABCDE' } : r)).join('');
    const lines = broken.trimEnd().split('\n');
    await staff.get('/gestion/territoires/departement/27/import');
    // No file: a clear error.
    let res = await postMultipart(t.app, staff, '/gestion/territoires/departement/27/import', { source: 'reseau-test' }, []);
    assert.equal(res.status, 400);
    assert.match(res.body, /Choisissez un fichier à importer/);
    res = await postMultipart(t.app, staff, '/gestion/territoires/departement/27/import', { source: 'reseau-test' }, [{ field: 'file', fileName: 'lieux.csv', content: broken }]);
    assert.equal(res.status, 200, res.body.slice(0, 500));
    assert.match(res.body, /Rien n’a encore été importé/);
    assert.match(res.body, /<td>3<\/td><td>Code postal<\/td><td>ABCDE<\/td>/);
    const { rows: none } = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM places.place WHERE import_source = 'reseau-test'`);
    assert.equal(none[0]!.n, 0, 'the check imports nothing');
    const upload = /name="upload" value="([0-9a-f]{32})"/.exec(res.body)![1]!;
    // Another person cannot confirm someone else's upload.
    const s2 = await signedInBrowser(t.app, deps, await makeUser(deps, 'staff27b@example.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '27' }]), nextIp());
    await s2.get('/gestion/territoires/departement/27/import');
    assert.equal((await s2.post('/gestion/territoires/departement/27/import/confirmer', { upload })).status, 400);
    res = await staff.post('/gestion/territoires/departement/27/import/confirmer', { upload });
    assert.equal(res.status, 200);
    assert.match(res.body, /Import terminé/);
    const runId = /Import n° (\d+)/.exec(res.body)![1]!;
    const { rows } = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM places.place WHERE import_source = 'reseau-test'`);
    assert.equal(rows[0]!.n, lines.length - 2, 'every row but the broken one');
    const history = await staff.get('/gestion/territoires/departement/27/import');
    assert.match(history.body, new RegExp(`import/${runId}">${runId}</a>`));
    const detail = await staff.get(`/gestion/territoires/departement/27/import/${runId}`);
    assert.match(detail.body, /ABCDE/);
    assert.ok((await listAudit(t.db, { objectType: 'import_run', objectId: runId })).some((e) => e.action === 'places.import'));
    // A row elsewhere than the staff's territory blocks the import.
    await staff.get('/gestion/territoires/departement/27/import');
    const elsewhere = csvHeaderLine() + [rows3[0]!, record({ id: 'imp-lyon', nom: 'Point numérique Lyon', ...LYON, courriels: [] })].map((r) => toCsvLine(r)).join('');
    res = await postMultipart(t.app, staff, '/gestion/territoires/departement/27/import', { source: 'reseau-test' }, [{ field: 'file', fileName: 'lieux.csv', content: elsewhere }]);
    assert.match(res.body, /1 lieu du fichier est hors de votre territoire \(ligne 3\)/);
    assert.doesNotMatch(res.body, /name="upload"/);
    // So does removing the source's places elsewhere.
    await t.db.query(`UPDATE places.place SET region = '84', departement = '69' WHERE import_source = 'reseau-test' AND id = 'imp-3'`);
    res = await postMultipart(t.app, staff, '/gestion/territoires/departement/27/import', { source: 'reseau-test', replace: '1' }, [{ field: 'file', fileName: 'lieux.csv', content: csvHeaderLine() + toCsvLine(rows3[0]!) }]);
    assert.match(res.body, /retirerait 1 lieu de la source « reseau-test » hors de votre territoire/);
    // Confirming twice does not import twice.
    assert.equal((await staff.post('/gestion/territoires/departement/27/import/confirmer', { upload })).status, 400);
  });

  test('administrators describe sources and their mapping files; the mapping is used by imports', async () => {
    await admin.get('/gestion/sources');
    let res = await admin.post('/gestion/sources', { name: 'ardennes', label: '', producer: '', contact: '', url: '' });
    assert.equal(res.status, 400);
    assert.match(res.body, /Donnez un nom lisible/);
    res = await admin.post('/gestion/sources', { name: 'ardennes', label: 'Département des Ardennes', producer: 'CD08', contact: '', url: 'https://ardennes.example.org' });
    assert.equal(res.location, '/gestion/sources/ardennes?ok=saved');
    await admin.get('/gestion/sources/ardennes');
    res = await postMultipart(t.app, admin, '/gestion/sources/ardennes/correspondance', {}, [{ field: 'mapping', fileName: 'faux.json', content: '{"columns": {"X": "pas_un_champ"}}', type: 'application/json' }]);
    assert.equal(res.status, 400);
    assert.match(res.body, /Fichier de correspondance invalide : « columns\.X »/);
    const mapping = fs.readFileSync(path.join(fixtures, 'mapping-producteur-ardennes.json'));
    res = await postMultipart(t.app, admin, '/gestion/sources/ardennes/correspondance', {}, [{ field: 'mapping', fileName: 'ardennes.json', content: mapping, type: 'application/json' }]);
    assert.equal(res.status, 303);
    // Import the producer's own file (département 08 is outside the staff's territory: the admin imports).
    await admin.get('/gestion/territoires/departement/08/import');
    res = await postMultipart(t.app, admin, '/gestion/territoires/departement/08/import', { source: 'ardennes' }, [{ field: 'file', fileName: 'producteur.csv', content: fs.readFileSync(path.join(fixtures, 'producteur-ardennes.csv')) }]);
    assert.equal(res.status, 200);
    assert.match(res.body, /format csv, version mapping/);
    assert.ok((await listAudit(t.db, { objectType: 'source', objectId: 'ardennes' })).some((e) => e.action === 'places.source.mapping'));
    // Staff do not manage sources.
    assert.equal((await staff.get('/gestion/sources')).status, 403);
  });

  test('error reports from the public site are listed for the territory and handled', async () => {
    const { rows } = await t.db.query<{ id: number }>(`INSERT INTO site.error_report (place_uid, message) VALUES ($1, 'Le numéro de téléphone a changé.') RETURNING id`, [uid]);
    await t.db.query(`INSERT INTO site.error_report (place_uid, message) VALUES ($1, 'Fermé le lundi maintenant.')`, [lyon]);
    const dash = await staff.get('/gestion/territoires/departement/27');
    assert.match(dash.body, /<strong>1<\/strong> signalements d’erreur en attente/);
    const list = await staff.get('/gestion/territoires/departement/27/signalements');
    assert.match(list.body, /Le numéro de téléphone a changé\./);
    assert.doesNotMatch(list.body, /Fermé le lundi maintenant/);
    const res = await staff.post(`/gestion/signalements/${rows[0]!.id}/etat`, { status: 'resolved' });
    assert.equal(res.status, 303);
    assert.doesNotMatch((await staff.get('/gestion/territoires/departement/27/signalements')).body, /Le numéro de téléphone a changé/);
    assert.equal((await staff.post(`/gestion/signalements/${rows[0]!.id + 1}/etat`, { status: 'resolved' })).status, 403, 'a report on a place elsewhere');
  });

  test('staff designate and remove a place’s managers (existing account or invitation)', async () => {
    const existing = await makeUser(deps, 'equipe-media@example.fr', [], 'Équipe médiathèque');
    await staff.get(`/gestion/lieux/${uid}/gestionnaires`);
    let res = await staff.post(`/gestion/lieux/${uid}/gestionnaires`, { email: 'equipe-media@example.fr', displayName: '' });
    assert.equal(res.location, `/gestion/lieux/${uid}/gestionnaires?ok=added`);
    const eb = await signedInBrowser(t.app, deps, existing, nextIp());
    assert.equal((await eb.get(`/gestion/lieux/${uid}/modifier`)).status, 200);
    await staff.get(`/gestion/lieux/${uid}/gestionnaires`);
    res = await staff.post(`/gestion/lieux/${uid}/gestionnaires`, { email: 'equipe-media@example.fr', displayName: '' });
    assert.equal(res.status, 409);
    assert.match(res.body, /Cette personne gère déjà ce lieu/);
    res = await staff.post(`/gestion/lieux/${uid}/gestionnaires`, { email: 'nouvelle@example.fr', displayName: 'Nouvelle personne' });
    assert.equal(res.location, `/gestion/lieux/${uid}/gestionnaires?ok=invited`);
    assert.equal((await readOutbox(t.db, 'nouvelle@example.fr')).length, 1);
    const list = await staff.get(`/gestion/lieux/${uid}/gestionnaires`);
    assert.match(list.body, /equipe-media@example\.fr/);
    res = await staff.post(`/gestion/lieux/${uid}/gestionnaires/retirer`, { user: existing.id });
    assert.equal(res.status, 303);
    assert.equal((await (await signedInBrowser(t.app, deps, existing, nextIp())).get(`/gestion/lieux/${uid}/modifier`)).status, 403);
    // Managers do not designate managers.
    const m = await makeUser(deps, 'manager9@example.fr', [{ role: 'place_manager', scopeKind: 'place', scopeId: uid }]);
    assert.equal((await (await signedInBrowser(t.app, deps, m, nextIp())).get(`/gestion/lieux/${uid}/gestionnaires`)).status, 403);
  });

  test('the audit chain is intact after all of this', async () => {
    assert.equal((await verifyAudit(t.db)).ok, true);
  });
});
