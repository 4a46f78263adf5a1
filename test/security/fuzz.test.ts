/**
 * Hostile query strings on every route of the server: prototype names, NUL bytes, invalid UTF-8
 * escapes, huge numbers, huge strings, repeated parameters, each in every query parameter a route
 * declares (zod schemas) and, all at once, in every parameter name the pages read. No answer may
 * be a server error, and none may take long (the test records the slowest).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../support/app.ts';
import { serverRoutes } from '../../src/platform/http/server.ts';
import { ODD, PAGE_PARAMS, isProviderUnreachable } from '../support/fuzz-values.ts';

function declaredParams(schema: unknown): string[] {
  const shape = (schema as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape && typeof shape === 'object' ? Object.keys(shape) : [];
}

describe('fuzzing every query parameter of every route', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp({ signinDelayMs: 1 });
  });
  after(async () => t.close());

  test('no odd value in any query parameter (or path segment) gives a server error', async () => {
    const routes = serverRoutes(t.app).filter((r) => r.method === 'GET');
    assert.ok(routes.length > 50, `${routes.length} GET routes`);
    const failures: string[] = [];
    let slowest = { ms: 0, url: '' };
    let requests = 0;
    const hit = async (url: string) => {
      const started = performance.now();
      const res = await t.app.inject({ method: 'GET', url, headers: { accept: url.includes('/api/') ? 'application/json' : 'text/html' } });
      const ms = performance.now() - started;
      requests++;
      if (ms > slowest.ms) slowest = { ms, url: url.slice(0, 200) };
      if (res.statusCode >= 500 && !isProviderUnreachable(res)) failures.push(`${res.statusCode} GET ${url.slice(0, 200)}${url.length > 200 ? '…' : ''} — ${res.body.slice(0, 200)}`);
    };
    const allNames = [...new Set([...PAGE_PARAMS, ...routes.flatMap((r) => declaredParams(r.schema?.querystring))])];
    const pathsOf = (url: string) => (url.includes(':') ? ['1', 'constructor', '%00', '%ff%fe', '99999999999999999999'].map((v) => url.replace(/:[A-Za-z_]+/g, v)) : [url]);
    // Pass 1, always complete: every route, every odd value in every parameter name at once, and
    // in its path segments.
    for (const r of routes) {
      const [first, ...others] = pathsOf(r.url);
      for (const v of ODD) await hit(`${first}?${allNames.map((n) => `${n}=${v}`).join('&')}`);
      for (const p of others) await hit(p);
    }
    const pass1 = requests;
    // Pass 2, within a time budget (FUZZ_SECONDS, default 60): each declared parameter on its own
    // (a page may stop at the first bad parameter), repeated (arrays), and q/retour/page alone.
    const deadline = performance.now() + Number(process.env.FUZZ_SECONDS ?? 60) * 1000;
    let covered = 0;
    for (const r of routes) {
      if (performance.now() > deadline) break;
      const path = pathsOf(r.url)[0]!;
      for (const n of [...declaredParams(r.schema?.querystring), 'q', 'retour', 'page']) {
        for (const v of ODD) await hit(`${path}?${n}=${v}`);
        await hit(`${path}?${n}=a&${n}=b&${n}[]=c&${n}[x]=d`);
      }
      covered++;
    }
    console.log(`fuzz: ${requests} requests (${pass1} in the complete first pass) over ${routes.length} GET routes, ${covered} routes fully covered by the second; slowest ${Math.round(slowest.ms)} ms (${slowest.url})`);
    assert.deepEqual(failures, []);
  });
});
