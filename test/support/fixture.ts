import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/platform/config.ts';
import { listMigrations } from '../../src/platform/db/migrate.ts';
import { migrationSources } from '../../src/app.ts';

/** A hash of everything that shapes the fixture: migrations and the reference-data loaders. */
export function fixtureHash(): string {
  const h = crypto.createHash('sha256');
  for (const s of migrationSources()) for (const m of listMigrations(s)) h.update(`${s.module}/${m.name}:${m.checksum}\n`);
  for (const f of ['src/modules/territories/load.ts', 'test/support/build-fixture.ts']) {
    const p = path.join(projectRoot, f);
    if (fs.existsSync(p)) h.update(fs.readFileSync(p));
  }
  return h.digest('hex').slice(0, 16);
}

/** The fixture of this run: chosen once by the runner (MAILLAGE_FIXTURE), else from the current files. */
export function fixturePath(): string {
  if (process.env.MAILLAGE_FIXTURE) return process.env.MAILLAGE_FIXTURE;
  return path.join(projectRoot, 'node_modules', '.cache', 'maillage', `fixture-${fixtureHash()}.tar.gz`);
}

export function templateDatabaseUrl(url: string): { adminUrl: string; templateName: string } {
  const u = new URL(url);
  const base = u.pathname.replace(/^\//, '') || 'postgres';
  const admin = new URL(url);
  admin.pathname = '/postgres';
  return { adminUrl: admin.toString(), templateName: `${base.replace(/[^a-z0-9_]/gi, '_')}_tpl` };
}
