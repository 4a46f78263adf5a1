/**
 * Background work on the embedded database gives way to requests (src/platform/db/background.ts):
 * the first start loads its reference and demo data while the server answers pages. Always on
 * PGlite (on PostgreSQL requests have their own connections and nothing waits).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { openDb, type Db } from '../../src/platform/db/index.ts';
import { inBackground, MAX_WAIT_MS, requestEnded, requestsInProgress, requestStarted } from '../../src/platform/db/background.ts';
import { testApp } from '../support/app.ts';

const settledWithin = async (p: Promise<unknown>, ms: number) => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setTimeout(r, ms));
  return done;
};

describe('background statements on the embedded database', () => {
  let db: Db;
  before(async () => {
    db = await openDb({ databaseUrl: null, pgliteDir: null });
  });
  after(async () => db.close());

  test('wait while a request is answered, and go as soon as it is', async () => {
    requestStarted();
    try {
      const bg = inBackground(() => db.query<{ n: number }>('SELECT 1 AS n'));
      const tx = inBackground(() => db.transaction((t) => t.query('SELECT 2')));
      // A request's own statements do not wait.
      assert.equal((await db.query<{ n: number }>('SELECT 3 AS n')).rows[0]!.n, 3);
      assert.equal(await settledWithin(bg, 150), false, 'a background statement ran while a request was being answered');
      assert.equal(await settledWithin(tx, 0), false, 'a background transaction started while a request was being answered');
      requestEnded();
      assert.equal(await settledWithin(Promise.all([bg, tx]), 150), true);
      assert.equal((await bg).rows[0]!.n, 1);
    } finally {
      while (requestsInProgress() > 0) requestEnded();
    }
  });

  test('never wait more than MAX_WAIT_MS per statement: steady traffic slows the load, never stops it', async () => {
    requestStarted();
    try {
      const t0 = performance.now();
      await inBackground(() => db.query('SELECT 1'));
      const waited = performance.now() - t0;
      assert.ok(waited >= MAX_WAIT_MS - 50, `waited ${waited} ms`);
    } finally {
      requestEnded();
    }
    assert.equal(requestsInProgress(), 0);
  });
});

describe('a page during a long background load (real HTTP)', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp();
  });
  after(async () => t.close());

  test('is answered while the load runs, not after it', async () => {
    if (t.ctx.db.kind !== 'pglite') return; // the gate is the embedded database's
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (t.app.server.address() as AddressInfo).port;
    const TOTAL = 400;
    let done = 0;
    // Statements that resolve without the event loop turning: without giving way, no connection
    // would be accepted before the last one.
    const load = inBackground(async () => {
      for (let i = 0; i < TOTAL; i++) {
        await t.ctx.db.query('SELECT count(*) FROM generate_series(1, 20000)');
        done++;
      }
    });
    const status = await new Promise<number>((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${port}/health`, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });
    const doneAtAnswer = done;
    await load;
    assert.equal(status, 200);
    assert.ok(doneAtAnswer < TOTAL / 2, `the page answered after ${doneAtAnswer} of ${TOTAL} background statements`);
    assert.equal(requestsInProgress(), 0);
  });

  test('a request that never ends (a form whose body never comes) cannot starve the load: it waits at most half its time', async () => {
    if (t.ctx.db.kind !== 'pglite') return;
    if (!t.app.server.listening) await t.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (t.app.server.address() as AddressInfo).port;
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write('POST /compte/connexion HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nemail=');
    try {
      const t0 = performance.now();
      while (requestsInProgress() === 0 && performance.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
      assert.equal(requestsInProgress(), 1, 'the unfinished request is being received');
      const STATEMENTS = 12;
      const t1 = performance.now();
      await inBackground(async () => {
        for (let i = 0; i < STATEMENTS; i++) await t.ctx.db.query('SELECT 1');
      });
      const took = performance.now() - t1;
      // Waiting MAX_WAIT_MS before each statement would take 12 s; half the load's time at most is about 2 × MAX_WAIT_MS here.
      assert.ok(took < 4 * MAX_WAIT_MS, `${STATEMENTS} background statements took ${Math.round(took)} ms beside one unfinished request`);
    } finally {
      socket.destroy();
      const t2 = performance.now();
      while (requestsInProgress() > 0 && performance.now() - t2 < 5000) await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(requestsInProgress(), 0);
  });
});
