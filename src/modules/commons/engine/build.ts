/**
 * The CPU-heavy part of indexing: read blobs from git, skip binaries, and build shards. Runs in a
 * worker thread (build-worker.ts) so the server keeps answering searches meanwhile; also callable
 * directly (tests, benchmarks).
 */
import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import { catBlobs } from '../git.ts';
import { DEFAULT_LIMITS, ShardWriter, type ShardLimits } from './shard.ts';

export interface BuildInput {
  gitDir: string;
  indexDir: string;
  /** Blobs to read (not yet in the index), with the language of one path they appear at (and their size, to share the work). */
  blobs: { sha: string; lang: string | null; size?: number }[];
  limits?: ShardLimits;
  shardPrefix: string;
}

export interface BuiltBlob {
  sha: string;
  size: number;
  status: 'indexed' | 'binary';
  shard: string | null;
  lines: number | null;
}

export interface BuildOutput {
  shards: { name: string; docs: number; bytes: number; postings: number }[];
  blobs: BuiltBlob[];
  /**
   * Where each build's time went (one entry per worker): wall-clock from start to finish, of which
   * building (the shard writer: add and finish) — the rest is waiting for git's blobs.
   */
  timings: { wallMs: number; buildMs: number; bytes: number; cpuMs?: number }[];
}

/**
 * CPU time of the calling thread (ms) where Linux tells it (/proc/thread-self/stat, in clock ticks
 * of 10 ms), else null: a build worker's own CPU, which the process's total does not separate.
 */
export function threadCpuMs(): number | null {
  try {
    const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

/**
 * Binary: a NUL byte, or bytes that are not valid UTF-8 (checked without decoding: the build
 * works on the bytes, and decodes a text only for the languages whose symbols it reads).
 */
export function isBinary(content: Buffer): boolean {
  return content.includes(0) || !isUtf8(content);
}

/** The text of a content, or null when it is binary. */
export function decodeText(content: Buffer): string | null {
  return isBinary(content) ? null : content.toString('utf8');
}

/**
 * Builds shards from blobs given one at a time (binaries recorded, texts added to the open shard,
 * a shard closed when full): the part of a build that does not depend on where the blobs come
 * from — git through buildShards, or the parent thread for a fed build worker.
 */
export class ShardBuilder {
  readonly out: BuildOutput = { shards: [], blobs: [], timings: [] };
  /** Milliseconds spent in add() and in closing shards. */
  buildMs = 0;
  bytes = 0;
  private readonly written: string[] = [];
  private writer: ShardWriter | null = null;
  private seq = 0;
  private readonly pendingBlobs: BuiltBlob[] = [];
  private readonly cpu0 = threadCpuMs();

  constructor(
    private readonly indexDir: string,
    private readonly shardPrefix: string,
    private readonly limits: ShardLimits = DEFAULT_LIMITS,
  ) {}

  add(sha: string, content: Buffer, lang: string | null) {
    const t = performance.now();
    this.bytes += content.length;
    if (isBinary(content)) {
      this.out.blobs.push({ sha, size: content.length, status: 'binary', shard: null, lines: null });
    } else {
      const w = (this.writer ??= new ShardWriter(this.indexDir, `${this.shardPrefix}-${this.seq++}`, this.limits));
      w.add(sha, content, null, lang);
      this.pendingBlobs.push({ sha, size: content.length, status: 'indexed', shard: w.name, lines: w.lastLines });
      if (w.full()) this.closeShard();
    }
    this.buildMs += performance.now() - t;
  }

  private closeShard() {
    const writer = this.writer;
    if (!writer) return;
    if (writer.docCount > 0) {
      const r = writer.finish();
      this.written.push(r.dir);
      this.out.shards.push({ name: writer.name, docs: r.docs, bytes: r.bytes, postings: r.postings });
    } else writer.abort();
    this.out.blobs.push(...this.pendingBlobs.splice(0));
    this.writer = null;
  }

  /** Closes the open shard; returns the output with this build's timing (`wallMs` since `t0`). */
  finish(t0: number): BuildOutput {
    const t = performance.now();
    this.closeShard();
    this.buildMs += performance.now() - t;
    const cpu = threadCpuMs();
    this.out.timings.push({ wallMs: performance.now() - t0, buildMs: this.buildMs, bytes: this.bytes, ...(cpu !== null && this.cpu0 !== null ? { cpuMs: cpu - this.cpu0 } : {}) });
    return this.out;
  }

  /** Removes everything written (a failed build). */
  abort() {
    this.writer?.abort();
    this.writer = null;
    for (const d of this.written) fs.rmSync(d, { recursive: true, force: true });
  }
}

export async function buildShards(input: BuildInput, onProgress?: (done: number, total: number) => void): Promise<BuildOutput> {
  const langs = new Map(input.blobs.map((b) => [b.sha, b.lang]));
  const t0 = performance.now();
  const builder = new ShardBuilder(input.indexDir, input.shardPrefix, input.limits ?? DEFAULT_LIMITS);
  let done = 0;
  try {
    await catBlobs(
      input.gitDir,
      input.blobs.map((b) => b.sha),
      (sha, content) => {
        builder.add(sha, content, langs.get(sha) ?? null);
        done++;
        if (onProgress && (done % 200 === 0 || done === input.blobs.length)) onProgress(done, input.blobs.length);
      },
    );
    return builder.finish(t0);
  } catch (e) {
    builder.abort();
    throw e;
  }
}
