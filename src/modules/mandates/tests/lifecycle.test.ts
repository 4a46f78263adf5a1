/**
 * Around the rules: the demo data (through the service, so the journal verifies), the roadmap's
 * live indicators, the CLI (expire, purge, journal verify, api-token, stats).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import type { CliContext } from '../../../platform/module.ts';
import { liveIndicators } from '../../roadmap/index.ts';
import { accountsTesting } from '../../accounts/index.ts';
import { mandatesCommand } from '../cli.ts';
import { seedMandatesDemo } from '../demo.ts';
import * as service from '../service.ts';
import { placeIn } from './support.ts';

describe('mandates: demo, indicators, CLI', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  const lines: string[] = [];
  let cli: CliContext;

  before(async () => {
    t = await testApp();
    await placeIn(t.db, '76540');
    await placeIn(t.db, '14118');
    cli = { ...t.ctx, out: (l: string) => lines.push(l), progress: () => ({ tick() {}, done() {} }) as unknown as ReturnType<CliContext['progress']> };
  });
  after(async () => t.close());

  test('the demo loads structures, helpers, mandates and acts once, with an intact journal', async () => {
    const said: string[] = [];
    await seedMandatesDemo(t.ctx, (l) => said.push(l), { mandates: 30 });
    assert.match(said[0]!, /mandates demo: 2 structures, 8 helpers, 30 mandates/);
    await seedMandatesDemo(t.ctx, (l) => said.push(l), { mandates: 30 });
    assert.equal(said.length, 1, 'idempotent');
    const st = await service.statistics(t.db);
    assert.equal(st.mandates, 30);
    assert.equal(st.helpers.trained, 6);
    assert.ok(st.acts >= 30);
    assert.equal((await service.verifyJournal(t.db)).ok, true);
  });

  test('live indicators: mandates in force and trained helpers per département and région', async () => {
    const active = liveIndicators().find((i) => i.id === 'mandates.active')!;
    const trained = liveIndicators().find((i) => i.id === 'mandates.helpers_trained')!;
    const terr = [{ level: 'departement' as const, code: '76' }, { level: 'region' as const, code: '28' }, { level: 'departement' as const, code: '69' }, { level: 'epci' as const, code: '200023414' }];
    const a = await active.compute({ db: t.db }, terr);
    const expected = (await service.statistics(t.db)).activeMandates;
    assert.equal(a.get('region:28'), expected);
    assert.equal(a.get('departement:69'), 0);
    assert.equal(a.get('epci:200023414'), null);
    assert.equal((await trained.compute({ db: t.db }, terr)).get('region:28'), 6);
  });

  test('the CLI: expire, purge, stats, journal verify (exit 1 once tampered), api-token', async () => {
    lines.length = 0;
    assert.equal(await mandatesCommand.run(['expire'], cli), 0);
    assert.match(lines.at(-1)!, /noted as expired/);
    assert.equal(await mandatesCommand.run(['purge'], cli), 0);
    assert.match(lines.at(-1)!, /deleted \(retention 12 months/);
    assert.equal(await mandatesCommand.run(['stats'], cli), 0);
    assert.equal(JSON.parse(lines.at(-1)!).mandates, 30);
    assert.equal(await mandatesCommand.run(['journal', 'verify'], cli), 0);
    assert.match(lines.at(-1)!, /intact: \d+ entries/);
    assert.equal(await mandatesCommand.run(['api-token', 'Outil'], cli), 2);
    const u = await accountsTesting.makeUser(accountsTesting.depsOf(t.app), 'cli-aidant@exemple.fr', [{ role: 'helper', scopeKind: 'place', scopeId: 'x' }]);
    assert.equal(await mandatesCommand.run(['api-token', 'Outil', '--helper', u.email], cli), 0);
    assert.match(lines.at(-1)!, /Token \(shown once\): mdt_/);
    assert.equal(await mandatesCommand.run(['nope'], cli), 2);
    await t.db.exec('ALTER TABLE mandates.journal DISABLE TRIGGER journal_append_only');
    await t.db.query("UPDATE mandates.journal SET detail = '{\"service\":\"autre\"}'::jsonb WHERE id = (SELECT max(id) FROM mandates.journal WHERE event = 'mandate.act')");
    await t.db.exec('ALTER TABLE mandates.journal ENABLE TRIGGER journal_append_only');
    assert.equal(await mandatesCommand.run(['journal', 'verify'], cli), 1);
    assert.match(lines.at(-1)!, /BROKEN .* was altered/);
  });
});
