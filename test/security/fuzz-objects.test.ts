/**
 * The fuzz test's other half. Routes whose path names an object (a place, a call, a process, a
 * plan…) answer 404 to an odd path value before they read their query string, so fuzz.test.ts
 * never reaches their parameters. Here every module's demo data is loaded (a small directory),
 * the site is crawled from its own links, anonymously and as an administrator, to find a real
 * address for every such route, and each address is sent every odd value in every parameter name
 * at once. No answer may be a server error. Every page crawled is also read for plurals written
 * with parentheses (« lieu(x) »), which the site never uses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../support/app.ts';
import { ODD, PAGE_PARAMS, isProviderUnreachable } from '../support/fuzz-values.ts';
import { serverRoutes } from '../../src/platform/http/server.ts';
import { silentProgress } from '../../src/platform/progress.ts';
import { modules } from '../../src/modules/registry.ts';
import { depsOf, makeUser, openSessionCookie } from '../../src/modules/accounts/testing.ts';

/** A route pattern (`/appels/:slug/dossiers/:id`) as a regular expression over paths. */
function patternOf(url: string): RegExp {
  const parts = url.split(/(:[A-Za-z_]+|\*)/).map((p) => (p.startsWith(':') ? '[^/]+' : p === '*' ? '.*' : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${parts.join('')}$`);
}

describe('fuzzing the query strings of routes that name an object', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let adminCookie = '';
  before(async () => {
    t = await testApp({ signinDelayMs: 1, demoPlaces: 400 });
    const ctx = { ...t.ctx, progress: silentProgress };
    // Every module's demo data, but the code-search corpus (git and worker threads, and its
    // routes take their object from the query string, which fuzz.test.ts covers).
    for (const m of modules) if (m.seedDemo && m.name !== 'commons') await m.seedDemo(ctx);
    for (const m of modules) if (m.afterDemo) await m.afterDemo(ctx);
    const admin = await makeUser(depsOf(t.app), 'fuzz-admin@example.org', [{ role: 'admin', scopeKind: 'platform', scopeId: '' }], 'Fuzz Admin');
    adminCookie = `maillage_session=${await openSessionCookie(t.app, admin)}`;
  });
  after(async () => t.close());

  test('every route with an object in its path, found by crawling, gives no server error to odd query values', async () => {
    const routes = serverRoutes(t.app).filter((r) => r.method === 'GET');
    const withParams = routes.filter((r) => r.url.includes(':')).map((r) => ({ url: r.url, re: patternOf(r.url) }));
    const found = new Map<string, string>(); // route pattern → one real address
    const failures: string[] = [];
    const parenPlurals = new Set<string>();
    let requests = 0;
    let ip = 0;
    const get = async (url: string, cookie: string) => {
      requests++;
      // A different address each time: the per-address rate limits must not hide a route.
      ip = (ip + 1) % 250;
      const res = await t.app.inject({
        method: 'GET',
        url,
        remoteAddress: `198.51.100.${ip + 1}`,
        headers: { accept: url.includes('/api/') ? 'application/json' : 'text/html', cookie },
      });
      if (res.statusCode >= 500 && !isProviderUnreachable(res)) failures.push(`${res.statusCode} GET ${url.slice(0, 200)}${url.length > 200 ? '…' : ''} — ${res.body.slice(0, 200)}`);
      return res;
    };

    // Crawl: from every route without a parameter, follow the site's own links (same origin),
    // breadth first, until every parameterised route has an address or nothing new is linked.
    for (const cookie of ['', adminCookie]) {
      const seen = new Set<string>();
      const queue = routes.filter((r) => !r.url.includes(':') && !r.url.includes('*')).map((r) => r.url);
      let fetched = 0;
      while (queue.length && fetched < 1500) {
        const url = queue.shift()!;
        if (seen.has(url)) continue;
        seen.add(url);
        const res = await get(url, cookie);
        fetched++;
        const type = String(res.headers['content-type'] ?? '');
        if (res.statusCode !== 200 || !type.startsWith('text/html')) continue;
        // Real French plurals on every page (issue #16): never « lieu(x) » or « 1 compte(s) ».
        const text = res.body.replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>|<[^>]+>/g, ' ');
        for (const m of text.matchAll(/[A-Za-zÀ-ÿ]+\((?:s|x|es|e)\)/g)) parenPlurals.add(`${m[0]} on ${url}`);
        for (const m of res.body.matchAll(/href="(\/[^"#?]*)(?:\?[^"#]*)?(?:#[^"]*)?"/g)) {
          const path = m[1]!.replace(/&amp;/g, '&');
          if (path.startsWith('//') || seen.has(path) || path.startsWith('/static/') || path.startsWith('/assets/')) continue;
          const route = withParams.find((r) => r.re.test(path));
          if (route) {
            if (found.has(route.url)) continue;
            found.set(route.url, path);
          }
          queue.push(path);
        }
      }
    }
    // Routes no page links to (API, tokens, sub-pages): fill their parameters with the values the
    // same parameter names had in the addresses found (`:slug`, `:id`…), or for one parameter of
    // another name with any segment seen, and keep the first address the route answers with 200.
    const byName = new Map<string, Set<string>>();
    const segments = new Set<string>();
    for (const [pattern, path] of found) {
      const ps = pattern.split('/');
      const vs = path.split('/');
      ps.forEach((p, i) => {
        if (p.startsWith(':') && vs[i]) (byName.get(p) ?? byName.set(p, new Set()).get(p)!).add(vs[i]!);
      });
      for (const v of vs) if (v && v.length <= 80) segments.add(v);
    }
    const tryPath = async (route: string, path: string) => {
      const res = await t.app.inject({ method: 'GET', url: path, remoteAddress: '203.0.113.9', headers: { accept: path.includes('/api/') ? 'application/json' : 'text/html', cookie: adminCookie } });
      requests++;
      if (res.statusCode >= 500) failures.push(`${res.statusCode} GET ${path}`);
      if (res.statusCode === 200) found.set(route, path);
      return res.statusCode === 200;
    };
    for (const r of withParams) {
      if (found.has(r.url) || r.url.includes('*')) continue;
      const params = r.url.match(/:[A-Za-z_]+/g) ?? [];
      const known = params.map((p) => [...(byName.get(p) ?? [])].slice(0, 12));
      if (params.length && known.every((k) => k.length)) {
        // The product of the known values, at most 40 addresses.
        let combos: string[][] = [[]];
        for (const k of known) combos = combos.flatMap((c) => k.map((v) => [...c, v])).slice(0, 40);
        for (const c of combos) {
          let path = r.url;
          params.forEach((p, i) => (path = path.replace(p, c[i]!)));
          if (await tryPath(r.url, path)) break;
        }
      } else if (params.length === 1) {
        for (const v of [...segments].slice(0, 300)) if (await tryPath(r.url, r.url.replace(params[0]!, v))) break;
      }
    }
    // Each address found: every odd value in every parameter name at once (as fuzz.test.ts's
    // first pass), signed in as the administrator (who may open every back-office page).
    const names = [...new Set([...PAGE_PARAMS, ...routes.flatMap((r) => Object.keys((r.schema?.querystring as { shape?: object } | undefined)?.shape ?? {}))])];
    for (const [, path] of found) for (const v of ODD) await get(`${path}?${names.map((n) => `${n}=${v}`).join('&')}`, adminCookie);
    const missing = withParams.filter((r) => !found.has(r.url)).map((r) => r.url);
    console.log(
      `fuzz-objects: ${requests} requests; ${found.size} of ${withParams.length} parameterised GET routes reached through links` +
        (missing.length ? `; not linked from any page: ${missing.join(', ')}` : ''),
    );
    // The crawl must reach the routes of every module with demo data, or this test proves little.
    for (const prefix of ['/lieux/', '/appels/', '/concertations/', '/feuilles-de-route/', '/labels/']) {
      assert.ok([...found.values()].some((p) => p.startsWith(prefix)), `no object address under ${prefix} was reached`);
    }
    assert.deepEqual(failures, []);
    assert.deepEqual([...parenPlurals], [], 'plurals written with parentheses');
  });
});
