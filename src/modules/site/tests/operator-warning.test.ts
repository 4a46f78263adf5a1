/**
 * Issue #16 item 9: a production start without SITE_OPERATOR (or SOURCE_URL) warns, in the log,
 * that the legal pages cannot say who runs the site; configured, it says nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { buildApp } from '../../../app.ts';
import { loadConfig } from '../../../platform/config.ts';
import { createLogger } from '../../../platform/log.ts';
import type { Db } from '../../../platform/db/index.ts';
import { testDb } from '../../../../test/support/db.ts';

const secretKey = 'une clé secrète de production pour le test 0123456789';

/** The warnings a production start logs with these settings. */
async function startupWarnings(db: Db, env: Record<string, string>): Promise<string[]> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const config = loadConfig({ ...process.env, NODE_ENV: 'production', SITE_OPERATOR: '', SOURCE_URL: '', ...env }, { secretKey });
  const { app } = await buildApp(config, db, createLogger('warn', sink));
  await app.close();
  return lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
}

describe('who runs the site, at start-up in production', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
  });
  after(async () => db.close());

  it('warns when SITE_OPERATOR and SOURCE_URL are not set', async () => {
    const warnings = await startupWarnings(db, {});
    assert.ok(warnings.some((w) => /SITE_OPERATOR is not set/.test(w)), warnings.join('\n'));
    assert.ok(warnings.some((w) => /SOURCE_URL is not set/.test(w)), warnings.join('\n'));
  });

  it('says nothing of them once they are configured', async () => {
    const warnings = await startupWarnings(db, { SITE_OPERATOR: 'Région Exemple', SOURCE_URL: 'https://code.exemple.fr/maillage' });
    assert.ok(!warnings.some((w) => /SITE_OPERATOR|SOURCE_URL/.test(w)), warnings.join('\n'));
  });
});
