/** Test helpers: throw-away git repositories made with the git CLI, and a context over a test database. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../platform/config.ts';
import { createLogger } from '../../../platform/log.ts';
import type { AppContext } from '../../../platform/module.ts';

export function tmpDir(prefix = 'commons-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

const ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.org',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.org',
  GIT_AUTHOR_DATE: '2024-01-02T03:04:05+01:00',
  GIT_COMMITTER_DATE: '2024-01-02T03:04:05+01:00',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: os.tmpdir(),
};

export function gitIn(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'init.defaultBranch=main', '-c', 'protocol.file.allow=always', ...args], { cwd: dir, env: ENV, encoding: 'utf8' }).trim();
}

/** Creates a repository with these files (Buffer for binary content) and one commit. */
export function makeRepo(files: Record<string, string | Buffer>, dir = tmpDir('repo-')): string {
  gitIn(dir, 'init', '-q');
  writeFiles(dir, files);
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-q', '-m', 'initial');
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string | Buffer>) {
  for (const [p, content] of Object.entries(files)) {
    const full = path.join(dir, p);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, content);
  }
}

export function commitAll(dir: string, message: string) {
  gitIn(dir, 'add', '-A');
  gitIn(dir, 'commit', '-q', '-m', message);
}

export async function testContext(): Promise<AppContext & { close(): Promise<void> }> {
  // Imported lazily: pure tests (SWHIDs, engine) do not need the database fixture.
  const { testDb } = await import('../../../../test/support/db.ts');
  const db = await testDb();
  const dataDir = tmpDir('commons-data-');
  const config = loadConfig({ ...process.env, NODE_ENV: 'test' }, { dataDir });
  return {
    config,
    db,
    log: createLogger('silent'),
    async close() {
      await db.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
