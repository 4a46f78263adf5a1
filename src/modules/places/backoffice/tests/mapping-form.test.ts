/**
 * The back office's column-mapping form: a place manager uploads a producer's CSV, maps its columns
 * (coded values, separators, a label column feeding three fields, half-day hours), previews, saves
 * the mapping with the source, and imports with it. Scope and CSRF refusals and hostile form values
 * leave the rows and the audit trail unchanged. The form's state ↔ mapping conversion keeps what a
 * hand-written mapping does (checked on the Ardennes fixture, row by row).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../../test/support/app.ts';
import { accountsTesting, type AccountsDeps } from '../../../accounts/index.ts';
import { parseMappingFile, sampleCsv } from '../../model/index.ts';
import { mappingPlan } from '../../model/mapping.ts';
import type { ValidationIssue } from '../../model/types.ts';
import { mappingFromState, stateFromForm, stateFromMapping } from '../mapping-form.ts';
import { postMultipart } from './helpers.ts';

const { makeUser, signedInBrowser } = accountsTesting;
type Browser = accountsTesting.Browser;

const FIXTURES = path.join(import.meta.dirname, '../../tests/fixtures');

/** The fields a browser would send for the page's first form with a given action (hidden, text, selects, checked boxes). */
function formFields(page: string, action: string): Record<string, string> {
  const start = page.indexOf(`action="${action}"`);
  assert.ok(start >= 0, `form ${action} on the page`);
  const form = page.slice(start, page.indexOf('</form>', start));
  const out: Record<string, string> = {};
  const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  for (const m of form.matchAll(/<input ([^>]*)>/g)) {
    const a = m[1]!;
    const name = /name="([^"]*)"/.exec(a)?.[1];
    const type = /type="([^"]*)"/.exec(a)?.[1] ?? 'text';
    if (!name || type === 'file' || (type === 'checkbox' && !/ checked/.test(a))) continue;
    out[name] = unescape(/value="([^"]*)"/.exec(a)?.[1] ?? '');
  }
  for (const m of form.matchAll(/<select [^>]*name="([^"]+)"[^>]*>([\s\S]*?)<\/select>/g)) {
    const options = [...m[2]!.matchAll(/<option value="([^"]*)"( selected)?>/g)];
    out[m[1]!] = unescape((options.find((o) => o[2]) ?? options[0])?.[1] ?? '');
  }
  return out;
}

/** The index of a column in the form (its fieldset's legend). */
function col(page: string, name: string): number {
  const m = new RegExp(`<fieldset class="group" id="col-(\\d+)"><legend>Colonne « ${name} »`).exec(page);
  assert.ok(m, `column ${name} on the page`);
  return Number(m[1]);
}

/** Sets the value select of `raw` in column `i`. */
function setValue(page: string, fields: Record<string, string>, i: number, raw: string, to: string) {
  const m = new RegExp(`name="k${i}_(\\d+)" value="${raw}"`).exec(page);
  assert.ok(m, `value ${raw} listed in column ${i}`);
  fields[`v${i}_${m[1]}`] = to;
}

const PRODUCER = [
  'CODE;SIRET;NOM_LIEU;NUM;VOIE;CP;VILLE;LAT;LON;SERVICES;LABELS;TARIF;lundi_matin;lundi_apres_midi;MAJ;SITE',
  'R69-1;21690123400019;Médiathèque Lyon Part-Dieu;30;boulevard Vivier-Merle;69003;Lyon;45,7605;4,8590;S1-S3;CNFS,FABT,Label maison;G;9h12h;12h-18h;02/04/2024;https://bm-lyon.example.org',
  'R69-2;21690123400019;Espace numérique Croix-Rousse;;place de la Croix-Rousse;69004;Lyon;45,7748;4,8320;S2;;P;sur rdv;fermé;05/02/2024;',
  '',
].join('\n');

describe('back office: mapping a producer’s columns in the browser', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let deps: AccountsDeps;
  let staff69: Browser;
  let other69: Browser;
  let ip = 40;
  const nextIp = () => `198.51.100.${ip++}`;
  const B = '/gestion/territoires/departement/69/import';
  const snapshot = async () => {
    const places = await t.db.query('SELECT uid, import_source, id, nom, content_hash FROM places.place ORDER BY uid');
    const audit = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM platform.audit_entry');
    const sources = await t.db.query('SELECT name, territories, mapping, mapping_file_name FROM places.source ORDER BY name');
    return { places: places.rows, audit: audit.rows[0]!.n, sources: sources.rows };
  };
  const upload = async (b: Browser, source: string, content = PRODUCER) => {
    await b.get(B);
    return postMultipart(t.app, b, `${B}/correspondance`, { mappingSource: source }, [{ field: 'mappingFile', fileName: 'recensement-rhone.csv', content }]);
  };

  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
    deps = accountsTesting.depsFor(t.db, t.ctx.config);
    staff69 = await signedInBrowser(t.app, deps, await makeUser(deps, 'mapping69@example.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '69' }], 'Équipe Rhône'), nextIp());
    other69 = await signedInBrowser(t.app, deps, await makeUser(deps, 'autre69@example.fr', [{ role: 'regional_staff', scopeKind: 'departement', scopeId: '69' }], 'Autre Rhône'), nextIp());
  });
  after(async () => t.close());

  test('upload → guessed mapping → value lists → preview → save with the source → import with it', async () => {
    const before = await snapshot();
    let res = await upload(staff69, 'reseau-rhone');
    assert.equal(res.status, 303, res.body.slice(0, 500));
    const url = res.location!;
    assert.match(url, new RegExp(`^${B}/correspondance/[0-9a-f]{32}$`));
    assert.deepEqual(await snapshot(), before, 'an upload writes nothing');
    let page = (await staff69.get(url)).body;
    // Guesses: CODE → id, NOM_LIEU → nom, lundi_matin → Monday's hours, LABELS → programmes.
    assert.match(page, /<select id="f-t0" name="t0"[^>]*>[\s\S]*?<option value="id" selected>/);
    assert.match(page, new RegExp(`name="t${col(page, 'lundi_matin')}"[^>]*>[\\s\\S]*?<option value="h:Mo" selected>`));
    assert.match(page, /<h2 id="preview-title">Aperçu<\/h2>/);
    let f = formFields(page, url);
    // NUM joins VOIE in the address; services split on "-"; then the value lists appear.
    f[`t${col(page, 'NUM')}`] = 'adresse';
    const services = col(page, 'SERVICES');
    f[`t${services}`] = 'services';
    f[`s${services}`] = '-';
    f.action = 'preview';
    res = await staff69.post(url, f);
    assert.equal(res.status, 200, res.body.slice(0, 500));
    page = res.body;
    f = formFields(page, url);
    setValue(page, f, services, 'S1', 'services:Aide aux démarches administratives');
    setValue(page, f, services, 'S2', 'services:Maîtrise des outils numériques du quotidien');
    setValue(page, f, services, 'S3', 'services:Accès internet et matériel informatique');
    const labels = col(page, 'LABELS');
    assert.equal(f[`t${labels}`], 'dispositif_programmes_nationaux');
    assert.equal(f[`s${labels}`], ',');
    setValue(page, f, labels, 'CNFS', 'dispositif_programmes_nationaux:Conseillers numériques');
    setValue(page, f, labels, 'FABT', 'formations_labels:Fabriques de Territoire');
    f[`r${labels}`] = 'keep:autres_formations_labels';
    const tarif = col(page, 'TARIF');
    setValue(page, f, tarif, 'G', 'frais_a_charge:Gratuit');
    setValue(page, f, tarif, 'P', 'frais_a_charge:Payant');
    f.action = 'preview';
    res = await staff69.post(url, f);
    assert.equal(res.status, 200);
    assert.match(res.body, /Sur les 2 premières lignes du fichier : 2 lieux seraient importés, 0 ligne serait refusée\./);
    assert.match(res.body, /<td>30 boulevard Vivier-Merle<\/td>/);
    assert.match(res.body, /Mo 09:00-18:00/, 'half-days read (9h12h, 12h-18h) and merged');
    assert.deepEqual(await snapshot(), before, 'a preview writes nothing');

    f = formFields(res.body, url);
    f.action = 'save';
    res = await staff69.post(url, f);
    assert.equal(res.status, 303, res.body.slice(0, 800));
    const after = await snapshot();
    assert.equal(after.audit, before.audit + 2, 'source created and mapping saved, both audited');
    const src = (await t.db.query<{ territories: string[]; mapping: Record<string, any> }>(`SELECT territories, mapping FROM places.source WHERE name = 'reseau-rhone'`)).rows[0]!;
    assert.deepEqual(src.territories, ['departement:69']);
    assert.deepEqual(src.mapping.columns.LABELS, [
      { field: 'dispositif_programmes_nationaux', values: { CNFS: 'Conseillers numériques' }, separator: ',' },
      { field: 'formations_labels', values: { FABT: 'Fabriques de Territoire' }, separator: ',' },
      { field: 'autres_formations_labels', separator: ',' },
    ]);
    assert.equal(src.mapping.columns.NUM, 'adresse');
    assert.equal(src.mapping.dateFormat, 'DD/MM/YYYY');
    const audit = (await t.db.query<{ action: string; meta: Record<string, unknown> }>(`SELECT action, meta FROM platform.audit_entry ORDER BY seq DESC LIMIT 2`)).rows;
    assert.deepEqual(audit.map((a) => a.action).sort(), ['places.source.create', 'places.source.mapping']);

    // The page now shows the saved mapping; the import uses it.
    page = (await staff69.get(res.location!)).body;
    assert.match(page, /Correspondance enregistrée avec la source « reseau-rhone »/);
    f = formFields(page, url);
    assert.equal(f[`t${col(page, 'NUM')}`], 'adresse');
    f.action = 'import';
    res = await staff69.post(url, f);
    assert.equal(res.status, 200);
    assert.match(res.body, /Importer 2 lieux/);
    const staged = /name="upload" value="([0-9a-f]{32})"/.exec(res.body)![1]!;
    res = await staff69.post(`${B}/confirmer`, { upload: staged });
    assert.equal(res.status, 200, res.body.slice(0, 500));
    const places = (await t.db.query<Record<string, unknown>>(`SELECT id, adresse, services, dispositif_programmes_nationaux, formations_labels, autres_formations_labels, frais_a_charge, horaires, date_maj::text AS date_maj FROM places.place WHERE import_source = 'reseau-rhone' ORDER BY id`)).rows;
    assert.deepEqual(places[0], {
      id: 'R69-1', adresse: '30 boulevard Vivier-Merle', services: ['Aide aux démarches administratives', 'Accès internet et matériel informatique'],
      dispositif_programmes_nationaux: ['Conseillers numériques'], formations_labels: ['Fabriques de Territoire'], autres_formations_labels: 'Label maison',
      frais_a_charge: ['Gratuit'], horaires: 'Mo 09:00-18:00', date_maj: '2024-04-02',
    });
    assert.equal(places[1]!.adresse, 'place de la Croix-Rousse');
  });

  test('scope: a source fed from another territory is refused at upload and at save, nothing written', async () => {
    await t.db.query(`INSERT INTO places.source (name, label, territories) VALUES ('reseau-76-map', 'Réseau 76', '{departement:76}')`);
    let before = await snapshot();
    let res = await upload(staff69, 'reseau-76-map');
    assert.equal(res.status, 400);
    assert.match(res.body, /alimentée depuis d’autres territoires \(departement:76\)/);
    assert.deepEqual(await snapshot(), before);
    // Staged while the name was new; another territory takes the name before the save.
    res = await upload(staff69, 'bascule-map');
    const url = res.location!;
    const page = (await staff69.get(url)).body;
    await t.db.query(`INSERT INTO places.source (name, label, territories) VALUES ('bascule-map', 'Bascule', '{departement:76}')`);
    before = await snapshot();
    res = await staff69.post(url, { ...formFields(page, url), action: 'save' });
    assert.equal(res.status, 403);
    assert.match(res.body, /alimentée depuis d’autres territoires/);
    assert.deepEqual(await snapshot(), before, 'no mapping, no audit entry');
    // An administrator may.
    const admin = await signedInBrowser(t.app, deps, await makeUser(deps, 'admin-map@example.fr', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }], 'Admin'), nextIp());
    res = await upload(admin, 'bascule-map');
    assert.equal(res.status, 303);
  });

  test('someone else’s upload, a missing CSRF token and hostile form values are refused; rows unchanged', async () => {
    let res = await upload(staff69, 'reseau-hostile');
    const url = res.location!;
    assert.equal((await other69.get(url)).status, 410);
    const page = (await staff69.get(url)).body;
    const f = formFields(page, url);
    const before = await snapshot();
    const { _csrf, ...withoutToken } = f;
    assert.ok(_csrf);
    res = await staff69.post(url, { ...withoutToken, action: 'save' }, { csrf: false });
    assert.equal(res.status, 403);
    for (const [k, v] of [['t0', '__proto__'], ['t0', 'constructor'], ['t1', 'h:XX'], ['f0', 'NO_SUCH_COLUMN\u0001'], ['r0', 'keep:nom']] as const) {
      await staff69.get(url);
      res = await staff69.post(url, { ...f, [k]: v, action: 'save' });
      assert.equal(res.status, 400, `${k}=${v}`);
    }
    const tarif = col(page, 'TARIF');
    await staff69.get(url);
    res = await staff69.post(url, { ...f, [`n${tarif}`]: '1', [`k${tarif}_0`]: 'G', [`v${tarif}_0`]: 'frais_a_charge:Gratuit pour toujours', action: 'save' });
    assert.equal(res.status, 400);
    assert.match(res.body, /valeur « G » : valeur standard inconnue/);
    await staff69.get(url);
    res = await staff69.post(url, { ...f, [`n${tarif}`]: '1', [`k${tarif}_0`]: 'G', [`v${tarif}_0`]: 'services:Aide aux démarches administratives', action: 'save' });
    assert.equal(res.status, 400, 'a value of another field');
    assert.deepEqual(await snapshot(), before);
    // Not a CSV: refused at upload.
    res = await upload(staff69, 'reseau-hostile', '\u0000\u0000');
    assert.equal(res.status, 400);
  });

  test('form state ↔ mapping keeps what the Ardennes mapping does, row by row', () => {
    const data = fs.readFileSync(path.join(FIXTURES, 'producteur-ardennes.csv'));
    const parsed = parseMappingFile(fs.readFileSync(path.join(FIXTURES, 'mapping-producteur-ardennes.json'), 'utf8'));
    assert.ok(parsed.ok);
    const sample = sampleCsv(data);
    const state = stateFromMapping(sample, parsed.mapping);
    const rebuilt = mappingFromState(sample, state, parsed.mapping);
    const convert = (m: typeof parsed.mapping) => {
      const plan = mappingPlan(m, sample.columns, 1);
      return sample.rows.map((r, k) => {
        const issues: ValidationIssue[] = [];
        return { values: plan.convert(r, k + 2, issues), issues: issues.map((i) => i.code) };
      });
    };
    assert.deepEqual(convert(rebuilt), convert(parsed.mapping));
    // And the form, as posted, gives the same state back.
    const form: Record<string, string> = { dateFormat: state.dateFormat };
    state.columns.forEach((c, i) => {
      Object.assign(form, { [`t${i}`]: c.target, [`s${i}`]: c.separator, [`f${i}`]: c.fallback, [`r${i}`]: c.rest, [`n${i}`]: String(c.values.length) });
      c.values.forEach((v, j) => Object.assign(form, { [`k${i}_${j}`]: v.raw, [`v${i}_${j}`]: v.to }));
    });
    const back = stateFromForm(sample, (n) => form[n] ?? '');
    assert.deepEqual(back.errors, []);
    assert.deepEqual(mappingFromState(sample, back.state, parsed.mapping), rebuilt);
  });
});
