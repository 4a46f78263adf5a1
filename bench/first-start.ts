/**
 * First start on a fresh clone (`npm run bench:first-start`, issue 14: pages served within 30 s):
 * copies the working tree (tracked and untracked files, node_modules linked) into a temporary
 * folder with no ../shared beside it and an empty data directory, runs `serve --demo` as
 * `npm start` does (embedded database, 20,000 demo places), with the official territory sources
 * pointed at a local mirror of ../shared (scripts/territories-mirror.mjs, as scripts/ci-fresh-clone.sh),
 * and times until `/` and the places' search page (`/recherche`, the list of places; there is no
 * `/lieux` page, only `/lieux/<uid>`) answer 200 — printed at once — then until « Maillage est
 * prêt » (all demo data in; BENCH_FIRST_START_READY=0 stops at the first pages).
 * CPU time is the server process tree's (user + system, from /proc), so a shared machine's load
 * shows up in wall time only. The per-module steps come from the server's debug log.
 *
 * Environment: BENCH_FIRST_START_RUNS (default 1), BENCH_PORT (default 41151; the mirror uses the
 * next one), DEMO_PLACES (default: the product's, 20,000), SHARED_DATA_DIR (the mirror's files).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/platform/config.ts';
import { machine, ms, percentiles, writeSection } from './lib.ts';

const RUNS = Number(process.env.BENCH_FIRST_START_RUNS ?? 1);
const PORT = Number(process.env.BENCH_PORT ?? 41151);
const MIRROR_PORT = PORT + 1;
const shared = process.env.SHARED_DATA_DIR ?? path.join(projectRoot, '..', 'shared', 'data');
const TICKS = 100; // clock ticks per second of /proc/<pid>/stat (Linux's USER_HZ)

/** CPU seconds (user + system) of a process and all its descendants still alive. */
function treeCpu(root: number): number {
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(f[1]);
      cpu.set(Number(d), (Number(f[11]) + Number(f[12])) / TICKS);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone */
    }
  }
  let total = 0;
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    total += cpu.get(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

/** The page's status (0 when the server does not answer yet). */
async function statusOf(url: string): Promise<number> {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}
/** The pages that must answer 200: the home page and the places' search page. */
const PAGES = ['/', '/recherche'];
const WAIT_READY = process.env.BENCH_FIRST_START_READY !== '0';
const LIMIT_MS = 600_000;

function waitFor(child: ChildProcess, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no « ${text} » after ${timeoutMs} ms:\n${out.slice(-2000)}`)), timeoutMs);
    const on = (b: Buffer) => {
      out += b.toString();
      if (out.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => reject(new Error(`exited (${code}) before « ${text} »:\n${out.slice(-2000)}`)));
  });
}

interface StartRun {
  servedMs: number;
  servedCpu: number;
  readyMs: number;
  readyCpu: number;
  steps: string[];
  /** When each of PAGES first answered 200. */
  pageMs: number[];
}

async function oneRun(dir: string): Promise<StartRun> {
  fs.rmSync(path.join(dir, 'data'), { recursive: true, force: true });
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(PORT), LOG_LEVEL: 'debug', TERRITORIES_SOURCE_MIRROR: `http://127.0.0.1:${MIRROR_PORT}`, TERRITORIES_SOURCE_TIMEOUT: '10' };
  delete env.SHARED_DATA_DIR;
  delete env.DATABASE_URL;
  const started = performance.now();
  const server = spawn(process.execPath, ['bin/maillage.mjs', 'serve', '--demo'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  server.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const ready = waitFor(server, 'Maillage est prêt', LIMIT_MS);
  ready.catch(() => undefined);
  try {
    const base = `http://127.0.0.1:${PORT}`;
    let servedMs = 0;
    let servedCpu = 0;
    let lastStatus = '';
    const firstOk: (number | null)[] = PAGES.map(() => null);
    for (;;) {
      if (server.exitCode !== null) throw new Error(`the server exited:\n${log.slice(-2000)}`);
      const statuses: number[] = [];
      for (const [i, p] of PAGES.entries()) {
        statuses.push(await statusOf(`${base}${p}`));
        if (statuses[i] === 200 && firstOk[i] === null) {
          firstOk[i] = performance.now() - started;
          console.error(`  ${p} first answers 200 after ${ms(firstOk[i]! / 1000)} s`);
        }
      }
      if (statuses.every((s) => s === 200)) {
        servedMs = performance.now() - started;
        servedCpu = treeCpu(server.pid!);
        console.error(`  pages ${PAGES.join(' and ')} answer 200 after ${ms(servedMs / 1000)} s (server CPU ${ms(servedCpu)} s)`);
        break;
      }
      // Say what the pages answer as it changes (a page that never answers 200 must show at once).
      const now = PAGES.map((p, i) => `${p} → ${statuses[i] || 'no answer'}`).join(', ');
      if (now !== lastStatus) console.error(`  ${ms((performance.now() - started) / 1000)} s: ${(lastStatus = now)}`);
      if (performance.now() - started > LIMIT_MS) throw new Error(`not served after ${LIMIT_MS / 60_000} minutes (${now}):\n${log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    if (WAIT_READY) await ready;
    const readyMs = performance.now() - started;
    const readyCpu = treeCpu(server.pid!);
    // The debug log's per-module steps (pino JSON lines).
    const steps: string[] = [];
    for (const line of log.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const e = JSON.parse(line) as { msg?: string; module?: string; ms?: number; cpuMs?: number };
        if (e.ms !== undefined && e.msg?.endsWith(' (since the process started)')) steps.push(`${e.msg.replace(' (since the process started)', '')} at ${ms(e.ms / 1000)} s (CPU ${ms((e.cpuMs ?? 0) / 1000)} s)`);
        if (e.module && e.ms !== undefined && /data (checked|completed)/.test(e.msg ?? '')) steps.push(`${e.module} ${e.msg?.startsWith('reference') ? '(reference) ' : ''}${ms(e.ms / 1000)} s (CPU ${ms((e.cpuMs ?? 0) / 1000)} s)`);
      } catch {
        /* not JSON */
      }
    }
    return { servedMs, servedCpu, readyMs, readyCpu, steps, pageMs: firstOk.map((v) => v ?? servedMs) };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maillage-first-start-'));
const dir = path.join(tmp, 'maillage');
const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: projectRoot, encoding: 'utf8' }).split('\0').filter(Boolean);
for (const f of files) {
  const from = path.join(projectRoot, f);
  if (f === 'node_modules' || f.startsWith('node_modules/') || !fs.existsSync(from) || !fs.statSync(from).isFile()) continue;
  fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
  fs.copyFileSync(from, path.join(dir, f));
}
fs.symlinkSync(fs.realpathSync(path.join(projectRoot, 'node_modules')), path.join(dir, 'node_modules'));
if (fs.existsSync(path.join(tmp, 'shared'))) throw new Error('unexpected ../shared beside the copy');

const mirror = spawn(process.execPath, [path.join(projectRoot, 'scripts', 'territories-mirror.mjs'), '--port', String(MIRROR_PORT), '--shared', shared], { stdio: ['ignore', 'pipe', 'pipe'] });
try {
  await waitFor(mirror, 'listening', 20_000);
  const runs: StartRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await oneRun(dir);
    runs.push(r);
    console.error(`run ${i + 1}: pages served after ${ms(r.servedMs / 1000)} s (CPU ${ms(r.servedCpu)} s); all demo data in after ${ms(r.readyMs / 1000)} s (CPU ${ms(r.readyCpu)} s)`);
    for (const s of r.steps) console.error(`  ${s}`);
  }
  const served = percentiles(runs.map((r) => r.servedMs));
  const ready = percentiles(runs.map((r) => r.readyMs));
  const last = runs[runs.length - 1]!;
  const md = [
    '## First start on a fresh clone (`npm run bench:first-start`)',
    '',
    `Run on ${new Date().toISOString().slice(0, 10)}: ${machine()}.`,
    `Target (issue 14): pages served within 30 s. ${RUNS} run${RUNS > 1 ? 's' : ''}, embedded database, ${process.env.DEMO_PLACES ?? '20,000'} demo places, territories from a local mirror of the official sources.`,
    '',
    `- \`/\` and \`/recherche\` (the places' search page) answer 200 after **${ms(served.p50 / 1000)} s** (p50; p95 ${ms(served.p95 / 1000)} s) ${served.p95 <= 30_000 ? '✅' : '❌'}; the server's CPU time by then: ${runs.map((r) => `${ms(r.servedCpu)} s`).join(', ')}.`,
    `- First 200 of each page: ${PAGES.map((p, i) => `\`${p}\` ${runs.map((r) => `${ms(r.pageMs[i]! / 1000)} s`).join(', ')}`).join('; ')}.`,
    WAIT_READY
      ? `- All demo data in (« Maillage est prêt »): ${ms(ready.p50 / 1000)} s (p50; p95 ${ms(ready.p95 / 1000)} s); CPU ${runs.map((r) => `${ms(r.readyCpu)} s`).join(', ')}.`
      : '- Not waited for all demo data (BENCH_FIRST_START_READY=0).',
    `- Steps of the last run (wall, CPU of the whole process meanwhile): ${last.steps.join('; ')}.`,
  ].join('\n');
  writeSection('first-start', md);
  console.log(md);
} finally {
  mirror.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
}
