/**
 * Every CLI command works on a fresh data directory (issue #13): pending migrations are applied
 * before the command runs, instead of `relation "…" does not exist`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig, projectRoot } from '../../src/platform/config.ts';

const config = loadConfig({ ...process.env, NODE_ENV: 'test' });
const example = path.join(config.sharedDataDir, 'standards', 'lieux-mediation-numerique', 'exemple-valide.csv');
const dirs: string[] = [];

/** Runs the CLI on a data directory of its own (the embedded database, whatever DATABASE_URL says). */
function maillage(dataDir: string, ...args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent', DATA_DIR: dataDir };
  delete env.DATABASE_URL;
  return spawnSync(process.execPath, [path.join(projectRoot, 'bin', 'maillage.mjs'), ...args], { encoding: 'utf8', env });
}
function fresh() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-fresh-'));
  dirs.push(d);
  return d;
}

// The CLI runs on the embedded database whatever the suite's engine: the PostgreSQL run of the
// suite would only repeat it (about a fifth of that run's time).
const skip = process.env.DATABASE_URL ? 'the CLI runs on the embedded database here: run in the embedded suite' : false;

describe('CLI on a fresh data directory', { skip }, () => {
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('audit verify, then audit head: migrations applied first, an empty intact chain', () => {
    const dir = fresh();
    const r = maillage(dir, 'audit', 'verify');
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.doesNotMatch(r.stderr + r.stdout, /does not exist/);
    assert.match(r.stdout, /Audit trail intact: 0 entries/);
    const head = maillage(dir, 'audit', 'head');
    assert.equal(head.status, 0, head.stderr);
    assert.equal(head.stdout.split('\n')[0], `0:${'0'.repeat(64)}`);
    const bad = maillage(dir, 'audit', 'verify', '--expect-head', 'pas-une-tete');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /expect-head/);
  });

  // The modules written after the first review (mandates, mediation, roadmap): each command of
  // theirs, the first on its own fresh directory, then the others there.
  const MODULE_COMMANDS: [string, string[][], RegExp[]][] = [
    ['mandates', [['mandates', 'journal', 'verify'], ['mandates', 'expire'], ['mandates', 'purge'], ['mandates', 'stats'], ['mandates', 'api-token', 'essai', '--helper', 'personne@exemple.fr']],
      [/Mandates journal intact: 0 entries/, /0 mandates noted as expired/, /0 identities deleted/, /"total"|\{/, /Unknown helper account: personne@exemple\.fr/]],
    ['mediation', [['mediation', 'recount'], ['mediation', 'purge'], ['mediation', 'remind'], ['mediation', 'api-client', 'essai', '--mediator', 'personne@exemple.fr', '--scope', 'activities:read']],
      [/counters rebuilt/, /0 followed beneficiaries deleted/, /0 reminders sent/, /Unknown mediator account: personne@exemple\.fr/]],
    ['roadmap', [['roadmap', 'plans'], ['roadmap', 'indicators'], ['roadmap', 'recompute'], ['roadmap', 'export', 'nulle-part', 'actions']],
      [/^$/, /\t/, /Recomputed \d+ live indicator/, /No plan "nulle-part"/]],
  ];
  for (const [module, commands, expected] of MODULE_COMMANDS) {
    test(`${module}: every command works from a fresh data directory (migrations first, or a clear message)`, () => {
      const dir = fresh();
      commands.forEach((args, i) => {
        const r = maillage(dir, ...args);
        const out = r.stdout + r.stderr;
        assert.doesNotMatch(out, /does not exist|TypeError|at .*\.ts:\d+/, `${args.join(' ')}: ${out}`);
        assert.ok(r.status === 0 || r.status === 2, `${args.join(' ')} exited ${r.status}: ${out}`);
        assert.match(out.trim(), expected[i]!, `${args.join(' ')}: ${out}`);
      });
      // What the commands wrote is in the audit trail, and the trail is intact.
      const audit = maillage(dir, 'audit', 'verify');
      assert.equal(audit.status, 0, audit.stdout + audit.stderr);
      if (module === 'mediation') assert.match(audit.stdout, /Audit trail intact: [1-9]\d* entr/);
    });
  }

  test('import: the first command on a fresh directory imports', { skip: fs.existsSync(example) ? false : `no example file at ${example}` }, () => {
    const dir = fresh();
    const r = maillage(dir, 'import', example, '--source', 'essai', '--json');
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.doesNotMatch(r.stderr + r.stdout, /does not exist/);
    assert.equal(JSON.parse(r.stdout).inserted, 1);
  });
});
