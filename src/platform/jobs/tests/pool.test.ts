import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { UserError } from '../../http/errors.ts';
import { ComputePool, PoolBusyError, PoolTimeoutError } from '../pool.ts';

const workerModule = path.join(import.meta.dirname, 'pool-worker.ts');

describe('compute pool (worker threads)', () => {
  const pools: ComputePool[] = [];
  const pool = (o: { size?: number; maxQueue?: number; timeoutMs?: number } = {}) => {
    const p = new ComputePool({ workerModule, ...o });
    pools.push(p);
    return p;
  };
  after(async () => {
    for (const p of pools) await p.close();
  });

  test('runs a task in a worker; a UserError keeps its status and field, another error stays an error', async () => {
    const p = pool();
    assert.deepEqual(await p.run('echo', { a: [1, 2] }), { a: [1, 2] });
    await assert.rejects(p.run('refuse', 'radiusKm'), (e: unknown) => e instanceof UserError && e.statusCode === 400 && e.field === 'radiusKm');
    await assert.rejects(p.run('crash', null), (e: unknown) => !(e instanceof UserError) && /boom/.test((e as Error).message));
    assert.equal(await p.run('echo', 'encore'), 'encore', 'the worker still answers after a failed task');
  });

  test('the event loop keeps turning while a task computes', async () => {
    const p = pool();
    await p.run('echo', 'warm-up');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    await p.run('spin', 600);
    clearInterval(timer);
    assert.ok(Date.now() - started >= 600);
    assert.ok(ticks >= 10, `timers ran ${ticks} times during a 600 ms computation`);
  });

  test('saturated: past the workers and the queue, a task is refused at once with a 503', async () => {
    const p = pool({ size: 1, maxQueue: 1 });
    const running = p.run('spin', 800);
    const waiting = p.run('echo', 'waiting');
    const t0 = Date.now();
    await assert.rejects(p.run('echo', 'refused'), (e: unknown) => e instanceof PoolBusyError && e.statusCode === 503 && /réessayez/.test(e.message));
    assert.ok(Date.now() - t0 < 200, 'refused without waiting');
    assert.deepEqual(p.load, { running: 1, waiting: 1 });
    assert.equal(await running, true);
    assert.equal(await waiting, 'waiting');
  });

  test('over its budget, a task is stopped (503) and the worker replaced; waiting tasks then run', async () => {
    const p = pool({ size: 1, maxQueue: 2, timeoutMs: 300 });
    const slow = p.run('spin', 30_000);
    const next = p.run('echo', 'after');
    const t0 = Date.now();
    await assert.rejects(slow, (e: unknown) => e instanceof PoolTimeoutError && e.statusCode === 503 && /temps alloué/.test(e.message));
    assert.ok(Date.now() - t0 < 5_000);
    assert.equal(await next, 'after');
  });

  test('slot data is sent once per key, and again when the key changes', async () => {
    const p = pool({ size: 1 });
    let loads = 0;
    const slots = (key: string, numbers: number[]) => [{ slot: 'numbers', key, load: () => (loads++, numbers) }];
    assert.equal(await p.run('sum', null, slots('v1', [1, 2, 3])), 6);
    assert.equal(await p.run('sum', null, slots('v1', [1, 2, 3])), 6);
    assert.equal(loads, 1);
    assert.equal(await p.run('sum', null, slots('v2', [10, 20])), 30);
    assert.equal(loads, 2);
  });
});
