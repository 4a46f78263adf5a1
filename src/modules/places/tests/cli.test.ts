import { STANDARD_DIR } from './fixtures/model-helpers.ts';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig, projectRoot } from '../../../platform/config.ts';
import type { Db } from '../../../platform/db/index.ts';
import type { CliContext } from '../../../platform/module.ts';
import { createLogger } from '../../../platform/log.ts';
import { silentProgress } from '../../../platform/progress.ts';
import { testDb } from '../../../../test/support/db.ts';
import { placesCommands } from '../cli.ts';
import { HEADER, csvLine } from './helpers.ts';

const config = loadConfig({ ...process.env, NODE_ENV: 'test' });
const example = path.join(STANDARD_DIR, 'exemple-valide.csv');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-cli-'));
const bad = path.join(dir, 'mauvais.csv');
fs.writeFileSync(bad, [HEADER, csvLine({ id: 'ok-1', nom: 'Bon lieu' }), csvLine({ id: 'ko-1', nom: 'Mauvais', pivot: '1' })].join('\n'));

function maillage(...args: string[]) {
  return spawnSync(process.execPath, [path.join(projectRoot, 'bin', 'maillage.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'silent', DATA_DIR: dir },
  });
}

describe('maillage CLI (process)', () => {
  test('validate: a valid file exits 0 and says so', () => {
    const r = maillage('validate', example);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /1 enregistrement : 1 valide, 0 refusé, 0 illisible ; 0 erreur/);
    assert.match(r.stdout, /conforme au standard/);
  });

  test('validate: an invalid row is named by line and field, exit code 1; --json is machine-readable', () => {
    const r = maillage('validate', bad);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /ligne 3 \[pivot\]/);
    const json = maillage('validate', bad, '--json');
    const body = JSON.parse(json.stdout);
    assert.equal(body.rows, 2);
    assert.equal(body.refused, 1);
    assert.equal(body.issues.find((i: { severity: string }) => i.severity === 'error').line, 3);
  });

  test('validate: a repeated id is reported on its line, naming the first, as a warning', () => {
    const twice = path.join(dir, 'deux-fois.csv');
    fs.writeFileSync(twice, [HEADER, csvLine({ id: 'd-1', nom: 'Premier' }), csvLine({ id: 'd-2', nom: 'Autre' }), csvLine({ id: 'd-1', nom: 'Premier bis' })].join('\n'));
    const r = maillage('validate', twice, '--json');
    assert.equal(r.status, 0, r.stderr);
    const body = JSON.parse(r.stdout) as { warnings: number; issues: { line: number; field: string; code: string; message: string }[] };
    const repeated = body.issues.filter((i) => i.code === 'duplicate_id');
    assert.deepEqual(repeated.map((i) => [i.line, i.field]), [[4, 'id']]);
    assert.match(repeated[0]!.message, /apparaît déjà ligne 2/);
  });

  test('validate counts an unreadable line; help import documents replace, undo and the mapping format', () => {
    const torn = path.join(dir, 'dechire.csv');
    fs.writeFileSync(torn, [HEADER, csvLine({ id: 't-1', nom: 'Un' }), 't-2,"jamais fermé', csvLine({ id: 't-3', nom: 'Trois' })].join('\n'));
    const r = maillage('validate', torn);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /3 enregistrements : 2 valides, 0 refusé, 1 illisible/);
    const help = maillage('help', 'import');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /import undo RUN/);
    assert.match(help.stdout, /--max-refused/);
  });

  test('mapping init writes a starting mapping; validate --mapping shows source values beside what they became', () => {
    const producer = path.join(dir, 'producteur.csv');
    fs.writeFileSync(producer, ['IDENT;SIRET;NOM_LIEU;CP;VILLE;ADRESSE;TARIF;DATE_MAJ;lundi_matin;NOTE', 'a1;21080105100013;Lieu;08000;Charleville-Mézières;1 rue Haute;G;05/02/2024;9h12h;x'].join('\n'));
    const out = path.join(dir, 'producteur.json');
    const r = maillage('mapping', 'init', producer, '--output', out);
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(m.columns.NOM_LIEU, 'nom');
    assert.equal(m.dateFormat, 'DD/MM/YYYY');
    assert.deepEqual(m.columns.TARIF, { field: 'frais_a_charge', values: { G: '' } });
    assert.deepEqual(m.hours, { columns: { lundi_matin: 'Mo' } });
    assert.deepEqual(m.ignore, ['NOTE']);
    // The empty value must be filled in before use: the error names it.
    const unfilled = maillage('validate', producer, '--mapping', out);
    assert.equal(unfilled.status, 1);
    assert.match(unfilled.stderr, /columns\.TARIF/);
    m.columns.TARIF.values.G = 'Gratuit';
    fs.writeFileSync(out, JSON.stringify(m));
    const v = maillage('validate', producer, '--mapping', out);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /TARIF → frais_a_charge\n\s+« G » → frais_a_charge = « Gratuit »/);
    assert.match(v.stdout, /« 9h12h » → horaires = « Mo 09:00-12:00 »/);
  });

  test('quiet on a non-terminal: one summary line on stderr', () => {
    const r = maillage('validate', example);
    const progressLines = r.stderr.split('\n').filter((l) => l.startsWith('validate'));
    assert.equal(progressLines.length, 1);
  });

  test('unknown command and missing file give clear messages', () => {
    const u = maillage('frobnicate');
    assert.equal(u.status, 2);
    assert.match(u.stderr, /Unknown command "frobnicate"/);
    const m = maillage('validate', path.join(dir, 'absent.csv'));
    assert.equal(m.status, 1);
    assert.match(m.stderr, /File not found/);
  });
});

describe('maillage CLI (commands over the test database)', () => {
  let db: Db;
  let out: string[];
  let ctx: CliContext;
  before(async () => {
    db = await testDb();
    out = [];
    ctx = { config, db, log: createLogger('silent'), progress: () => silentProgress(), out: (l) => out.push(l) };
  });
  after(async () => db.close());

  test('import reports kept and refused rows; a re-run changes nothing', async () => {
    const code = await placesCommands.import!.run([bad, '--source', 'cli'], ctx);
    assert.equal(code, 0);
    assert.ok(out.some((l) => /2 enregistrements — 1 conservé, 1 refusé, 0 illisible ; 1 ajouté/.test(l)), out.join('\n'));
    out.length = 0;
    await placesCommands.import!.run([bad, '--source', 'cli'], ctx);
    assert.ok(out.some((l) => /0 ajouté, 0 modifié, 1 inchangé/.test(l)), out.join('\n'));
  });

  test('import needs --source', async () => {
    await assert.rejects(placesCommands.import!.run([bad], ctx), /--source/);
  });

  test('export writes the standard CSV', async () => {
    const file = path.join(dir, 'export.csv');
    await placesCommands.export!.run(['--output', file, '--territory', '27'], ctx);
    const text = fs.readFileSync(file, 'utf8');
    assert.equal(text.split(/\r?\n/)[0], HEADER);
    assert.match(text, /Bon lieu/);
  });

  test('dedup lists nothing on a base without duplicates', async () => {
    out.length = 0;
    await placesCommands.dedup!.run([], ctx);
    assert.match(out[0]!, /^0 paire/);
  });
});
