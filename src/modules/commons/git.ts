/**
 * The git command line, as the indexer uses it: mirror a repository (URL or local path) into the
 * data directory, list refs and trees, and stream blobs through one `git cat-file --batch` process
 * (one blob in memory at a time).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { UserError } from '../../platform/http/errors.ts';

export class GitError extends Error {
  constructor(
    message: string,
    readonly stderr = '',
  ) {
    super(message);
  }
}

const GIT_ENV = {
  ...process.env,
  GIT_TERMINAL_PROMPT: '0',
  GIT_ASKPASS: 'true',
  GIT_CONFIG_NOSYSTEM: '1',
  LC_ALL: 'C',
};

/** Runs git and returns stdout as a Buffer; rejects with the command's stderr. */
export function git(args: string[], opts: { cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: opts.cwd, env: GIT_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new GitError(`git ${args[0]}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8').trim();
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new GitError(`git ${args[0]} failed (${signal ?? `exit ${code}`}): ${stderr.split('\n').slice(-2).join(' ')}`, stderr));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Is this a URL git can fetch (https, http, git, ssh, file) rather than a local path? */
export function isRemoteUrl(source: string): boolean {
  return /^(https?|git|ssh|file):\/\//.test(source) || /^[\w.-]+@[\w.-]+:/.test(source);
}

/**
 * Makes or refreshes a bare mirror of `source` in `mirrorDir`. Local paths must exist; remote URLs
 * use the git protocols (no credentials are ever prompted for).
 */
export async function mirror(source: string, mirrorDir: string): Promise<void> {
  if (!isRemoteUrl(source) && !fs.existsSync(source)) {
    throw new UserError(`Le dépôt « ${source} » est introuvable (chemin local inexistant).`, 404, 'source', 'repository_not_found');
  }
  try {
    if (fs.existsSync(`${mirrorDir}/HEAD`)) {
      await git(['--git-dir', mirrorDir, 'remote', 'set-url', 'origin', source]);
      await git(['--git-dir', mirrorDir, 'fetch', '--prune', '--quiet', 'origin'], { timeoutMs: 30 * 60_000 });
      // The remote's default branch may have changed.
      await git(['--git-dir', mirrorDir, 'remote', 'set-head', 'origin', '--auto']).catch(() => undefined);
      const head = await git(['ls-remote', '--symref', source, 'HEAD']).catch(() => Buffer.from(''));
      const m = /^ref: (refs\/heads\/\S+)\tHEAD/m.exec(head.toString('utf8'));
      if (m) await git(['--git-dir', mirrorDir, 'symbolic-ref', 'HEAD', m[1]!]);
    } else {
      fs.rmSync(mirrorDir, { recursive: true, force: true });
      await git(['clone', '--mirror', '--quiet', '--no-hardlinks', source, mirrorDir], { timeoutMs: 30 * 60_000 });
    }
  } catch (e) {
    if (e instanceof GitError) {
      throw new UserError(`Impossible de récupérer le dépôt « ${source} » : ${e.message}`, 422, 'source', 'repository_unavailable');
    }
    throw e;
  }
}

export interface Ref {
  name: string;
  kind: 'head' | 'tag';
  commit: string;
  /** An annotated tag's object (its hash is the release's swh:1:rel identifier). */
  tagObject?: string;
}

/** The default branch head and the tags that point (possibly through a tag object) at commits. */
export async function listRefs(gitDir: string): Promise<Ref[]> {
  const refs: Ref[] = [];
  const head = (await git(['--git-dir', gitDir, 'symbolic-ref', '-q', 'HEAD']).catch(() => Buffer.from(''))).toString().trim();
  if (head) {
    const sha = (await git(['--git-dir', gitDir, 'rev-parse', '-q', '--verify', `${head}^{commit}`]).catch(() => Buffer.from(''))).toString().trim();
    if (sha) refs.push({ name: head.replace(/^refs\/heads\//, ''), kind: 'head', commit: sha });
  }
  const out = (await git(['--git-dir', gitDir, 'for-each-ref', '--sort=-creatordate', '--format=%(refname:short)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)', 'refs/tags'])).toString('utf8');
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [name, type, sha, ptype, psha] = line.split('\0');
    if (type === 'commit') refs.push({ name: name!, kind: 'tag', commit: sha! });
    else if (type === 'tag' && ptype === 'commit') refs.push({ name: name!, kind: 'tag', commit: psha!, tagObject: sha! });
  }
  return refs;
}

export interface CommitInfo {
  tree: string;
  date: string;
  message: string;
}

export async function commitInfo(gitDir: string, commit: string): Promise<CommitInfo> {
  const out = (await git(['--git-dir', gitDir, 'show', '-s', '--format=%T%x00%cI%x00%s', commit])).toString('utf8').trim();
  const [tree, date, message] = out.split('\0');
  return { tree: tree!, date: date!, message: message ?? '' };
}

export interface TreeItem {
  path: string;
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  sha: string;
  /** Blob size in bytes (null for trees and submodules). */
  size: number | null;
}

/** Every entry of a commit's tree, recursively, trees included (`git ls-tree -r -t --long`). */
export async function lsTree(gitDir: string, commit: string): Promise<TreeItem[]> {
  const out = await git(['--git-dir', gitDir, 'ls-tree', '-r', '-t', '-z', '--long', '--full-tree', commit]);
  const items: TreeItem[] = [];
  let start = 0;
  while (start < out.length) {
    let end = out.indexOf(0, start);
    if (end < 0) end = out.length;
    const rec = out.subarray(start, end).toString('utf8');
    start = end + 1;
    const tab = rec.indexOf('\t');
    if (tab < 0) continue;
    const [mode, type, sha, size] = rec.slice(0, tab).split(/\s+/);
    items.push({ path: rec.slice(tab + 1), mode: mode!, type: type as TreeItem['type'], sha: sha!, size: size === '-' || size === undefined ? null : Number(size) });
  }
  return items;
}

/**
 * Streams the given blobs through `git cat-file --batch`: `onBlob` is awaited for each one before
 * the next is read, so memory holds one blob at a time. A blob reported missing (the repository
 * vanished or was rewritten under us) rejects with a GitError. With `copy: false`, `content` is a
 * view of the read buffer, valid only until `onBlob` returns (the caller copies what it keeps).
 */
export function catBlobs(gitDir: string, shas: string[], onBlob: (sha: string, content: Buffer) => Promise<void> | void, opts: { copy?: boolean } = {}): Promise<void> {
  const copy = opts.copy !== false;
  return new Promise((resolve, reject) => {
    if (shas.length === 0) return resolve();
    const child = spawn('git', ['--git-dir', gitDir, 'cat-file', '--batch'], { env: GIT_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    let failed = false;
    let stderr = '';
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      child.kill('SIGKILL');
      reject(e);
    };
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', (e) => fail(new GitError(`git cat-file: ${e.message}`)));
    child.stdin.on('error', () => undefined);
    let next = 0;
    // Feed the requests in small batches so the pipe never holds much more than one blob ahead.
    const feed = () => {
      const batch: string[] = [];
      while (next < shas.length && batch.length < 64) batch.push(shas[next++]!);
      if (batch.length) child.stdin.write(batch.join('\n') + '\n');
      if (next >= shas.length) child.stdin.end();
    };
    let pending: Buffer[] = [];
    let pendingLen = 0;
    let expect: { sha: string; size: number } | null = null;
    let done = 0;
    let busy = false;
    let closed = false;
    let exitCode: number | null = null;
    const vanished = () =>
      fail(new GitError(`the repository vanished during indexing (git cat-file exited ${exitCode}${stderr ? `: ${stderr.trim()}` : ''})`));
    const take = (n: number): Buffer => {
      const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
      const head = all.subarray(0, n);
      const rest = all.subarray(n);
      pending = rest.length ? [rest] : [];
      pendingLen = rest.length;
      return head;
    };
    const pump = async () => {
      if (busy || failed) return;
      busy = true;
      try {
        for (;;) {
          if (!expect) {
            const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
            pending = buf.length ? [buf] : [];
            const nl = buf.indexOf(10);
            if (nl < 0) break;
            const header = take(nl + 1).toString('utf8').trim();
            const parts = header.split(' ');
            if (parts[1] === 'missing' || parts.length < 3) {
              return fail(new GitError(`the repository changed or vanished during indexing: object ${parts[0]} is missing`));
            }
            expect = { sha: parts[0]!, size: Number(parts[2]) };
          }
          if (pendingLen < expect.size + 1) break;
          const view = take(expect.size + 1).subarray(0, expect.size);
          const content = copy ? Buffer.from(view) : view;
          const sha = expect.sha;
          expect = null;
          child.stdout.pause();
          await onBlob(sha, content);
          child.stdout.resume();
          done++;
          if (done % 32 === 0 || done === next) feed();
          if (done === shas.length) {
            resolve();
            return;
          }
        }
        if (closed && done < shas.length) vanished();
      } catch (e) {
        fail(e as Error);
      } finally {
        busy = false;
      }
    };
    child.stdout.on('data', (b: Buffer) => {
      pending.push(b);
      pendingLen += b.length;
      void pump();
    });
    child.on('close', (code) => {
      closed = true;
      exitCode = code;
      // A running pump decides when it runs out of data; otherwise decide now.
      if (!busy) void pump();
    });
    feed();
  });
}

/** Reads one blob (small files: README, publiccode.yml). */
export async function readBlob(gitDir: string, spec: string): Promise<Buffer | null> {
  try {
    return await git(['--git-dir', gitDir, 'cat-file', 'blob', spec]);
  } catch {
    return null;
  }
}
