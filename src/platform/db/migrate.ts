/**
 * The migration runner: each module owns a folder of numbered `.sql` files, applied in module
 * order, each file once, each in its own transaction. A checksum guards against edited history.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from './index.ts';

export interface MigrationSource {
  module: string;
  dir: string;
}

export interface MigrationReport {
  applied: string[];
}

const BOOTSTRAP = `
CREATE SCHEMA IF NOT EXISTS platform;
CREATE TABLE IF NOT EXISTS platform.migration (
  module text NOT NULL,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (module, name)
);`;

export function listMigrations(source: MigrationSource): { name: string; sql: string; checksum: string }[] {
  if (!fs.existsSync(source.dir)) return [];
  return fs
    .readdirSync(source.dir)
    .filter((f) => /^\d{3,}[-_].+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const sql = fs.readFileSync(path.join(source.dir, name), 'utf8');
      return { name, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') };
    });
}

export async function migrate(db: Db, sources: MigrationSource[]): Promise<MigrationReport> {
  const applied: string[] = [];
  if (db.kind === 'postgres') await db.query('SELECT pg_advisory_lock(8153021)');
  try {
    await db.exec(BOOTSTRAP);
    const done = new Map<string, string>();
    const { rows } = await db.query<{ module: string; name: string; checksum: string }>('SELECT module, name, checksum FROM platform.migration');
    for (const r of rows) done.set(`${r.module}/${r.name}`, r.checksum);
    for (const source of sources) {
      for (const m of listMigrations(source)) {
        const key = `${source.module}/${m.name}`;
        const previous = done.get(key);
        if (previous) {
          if (previous !== m.checksum) throw new Error(`Migration ${key} was changed after it was applied; add a new migration instead.`);
          continue;
        }
        await db.transaction(async (tx) => {
          await tx.exec(m.sql);
          await tx.query('INSERT INTO platform.migration (module, name, checksum) VALUES ($1, $2, $3)', [source.module, m.name, m.checksum]);
        });
        applied.push(key);
      }
    }
  } finally {
    if (db.kind === 'postgres') await db.query('SELECT pg_advisory_unlock(8153021)');
  }
  return { applied };
}
