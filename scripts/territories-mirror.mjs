#!/usr/bin/env node
// A local stand-in for the official sources of the reference geography, for tests, CI and offline
// machines: serves the shared development files (SHARED_DATA_DIR/territories, IGN Admin Express
// COG 2018 simplified) at the official paths, in the official formats:
//   GET /communes?…                                               geo.api.gouv.fr's list of communes
//       (JSON [{code, nom, centre: {type: 'Point', coordinates}, population}], gzip-encoded on request)
//   GET /contours-administratifs/<year>/geojson/communes-100m.geojson.gz       Etalab's boundaries
//   GET /contours-administratifs/<year>/geojson/departements-1000m.geojson.gz  (gzip files, as
//   GET /contours-administratifs/<year>/geojson/regions-1000m.geojson.gz        the official ones)
// Point the product at it with TERRITORIES_SOURCE_MIRROR=<its address> (or `territories load --from`).
//
//   node scripts/territories-mirror.mjs [--port N] [--host H] [--shared DIR]
//
// Tests import startMirror() and inject faults by file name: 'truncate' (announces the full
// length, sends half, cuts the connection), 'error' (HTTP 500), 'corrupt' (a cut gzip file sent
// with a matching length).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const CONTOURS = {
  'communes-100m.geojson.gz': { file: 'communes-2018.geojson.gz', gzipped: true },
  'departements-1000m.geojson.gz': { file: 'departements-avec-outre-mer.geojson', gzipped: false },
  'regions-1000m.geojson.gz': { file: 'regions-metropole-simplifie.geojson', gzipped: false },
};

/** geo.api.gouv.fr's answer built from communes-centres.csv, with the COG's names and populations. */
function apiCommunes(dir) {
  const cog = new Map();
  for (const c of require('@etalab/decoupage-administratif/data/communes.json')) {
    if (c.type === 'commune-actuelle' || c.type === 'arrondissement-municipal') cog.set(c.code, c);
  }
  const lines = fs.readFileSync(path.join(dir, 'communes-centres.csv'), 'utf8').split(/\r?\n/).slice(1);
  const out = [];
  for (const line of lines) {
    const [code, lat, lon] = line.split(',');
    const c = cog.get(code);
    if (!c) continue; // the API lists current communes only
    out.push({ nom: c.nom, code, centre: { type: 'Point', coordinates: [Number(lon), Number(lat)] }, population: c.population ?? 0 });
  }
  return Buffer.from(JSON.stringify(out));
}

export async function startMirror({ sharedDataDir = process.env.SHARED_DATA_DIR || path.join(root, '..', 'shared', 'data'), port = 0, host = '127.0.0.1', faults = {} } = {}) {
  const dir = path.join(sharedDataDir, 'territories');
  if (!fs.existsSync(path.join(dir, 'communes-centres.csv'))) throw new Error(`territories-mirror: ${dir} has no communes-centres.csv`);
  const bodies = new Map();
  const body = (name) => {
    if (!bodies.has(name)) {
      if (name === 'communes') bodies.set(name, { raw: apiCommunes(dir), mtime: fs.statSync(path.join(dir, 'communes-centres.csv')).mtime });
      else {
        const spec = CONTOURS[name];
        const file = path.join(dir, spec.file);
        const buf = fs.readFileSync(file);
        bodies.set(name, { raw: spec.gzipped ? buf : zlib.gzipSync(buf), mtime: fs.statSync(file).mtime });
      }
    }
    return bodies.get(name);
  };
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://mirror');
    requests.push(url.pathname + url.search);
    let name = null;
    let type = 'application/gzip';
    if (url.pathname === '/communes') {
      name = 'communes';
      type = 'application/json; charset=utf-8';
    } else {
      const m = /^\/contours-administratifs\/[\w.-]+\/geojson\/([\w.-]+)$/.exec(url.pathname);
      if (m && CONTOURS[m[1]]) name = m[1];
    }
    if (!name) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    const fault = faults[name];
    if (fault === 'error') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error');
      return;
    }
    const { raw, mtime } = body(name);
    let payload = raw;
    // One request per connection: nothing depends on keep-alive timers (the tests run the mirror
    // in the process that downloads, whose event loop is sometimes busy for seconds).
    const headers = { 'content-type': type, 'last-modified': mtime.toUTCString(), connection: 'close' };
    if (name === 'communes' && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      payload = zlib.gzipSync(raw, { level: 1 });
      headers['content-encoding'] = 'gzip';
    }
    if (fault === 'corrupt') payload = payload.subarray(0, Math.floor(payload.length / 2));
    headers['content-length'] = String(payload.length);
    res.writeHead(200, headers);
    if (fault === 'truncate') {
      res.write(payload.subarray(0, Math.floor(payload.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(payload);
  });
  server.keepAliveTimeout = 60_000;
  server.requestTimeout = 0;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  return {
    url: `http://${host}:${address.port}`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const mirror = await startMirror({ port: Number(opt('--port') ?? 0), host: opt('--host') ?? '127.0.0.1', sharedDataDir: opt('--shared') });
  process.stdout.write(`territories mirror listening on ${mirror.url}\n`);
  const stop = () => mirror.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
