#!/usr/bin/env node
// Test runner: builds the shared database fixture once (migrations + reference data), then runs
// every *.test.ts file with Node's test runner. `node scripts/run-tests.mjs e2e` runs the browser
// tests only; `node scripts/run-tests.mjs places/tests/import test/security` runs the files whose path
// contains any of the filters; `--skip=crash-modules` (repeatable) leaves out the files whose path contains it.
// Browser tests are included in the default run when Chromium is installed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const skips = args.filter((a) => a.startsWith('--skip=')).map((a) => a.slice('--skip='.length)).filter(Boolean);
const filters = args.filter((a) => !a.startsWith('--skip='));
const mode = filters.length === 0 ? 'all' : filters.length === 1 ? filters[0] : 'filters';
const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

function find(dir, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) find(p, out);
    else if (entry.name.endsWith('.test.ts')) out.push(path.relative(root, p));
  }
  return out;
}

let files = [];
if (mode !== 'e2e') files.push(...find(path.join(root, 'src')), ...find(path.join(root, 'test')));
const wantsE2e = filters.some((f) => f === 'e2e' || f.startsWith('e2e/'));
const withBrowser = wantsE2e || (mode === 'all' && fs.existsSync(chromium) && process.env.SKIP_E2E !== '1');
if (withBrowser) files.push(...find(path.join(root, 'e2e')));
if (mode !== 'all' && mode !== 'e2e') files = files.filter((f) => filters.some((filter) => f.includes(filter)));
if (!withBrowser && mode === 'all') console.log(`(browser tests skipped: no Chromium at ${chromium})`);
if (skips.length) files = files.filter((f) => !skips.some((skip) => f.includes(skip)));
files.sort();
if (files.length === 0) {
  console.log(`no test files for ${filters.map((f) => `"${f}"`).join(', ') || '"all"'}`);
  process.exit(wantsE2e ? 0 : 1);
}

const env = { ...process.env, NODE_ENV: 'test', TZ: 'Europe/Paris' };
const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-run-')), 'fixture');
const fixture = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/build-fixture.ts'], {
  cwd: root,
  env: { ...env, MAILLAGE_FIXTURE_OUT: marker },
  stdio: 'inherit',
});
if (fixture.status !== 0) process.exit(fixture.status ?? 1);
if (fs.existsSync(marker)) env.MAILLAGE_FIXTURE = fs.readFileSync(marker, 'utf8');

const concurrency = process.env.TEST_CONCURRENCY || '2';
const result = spawnSync(
  process.execPath,
  [
    '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/test-durations.mjs', '--test-reporter-destination=stdout',
    ...files,
  ],
  { cwd: root, env, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
