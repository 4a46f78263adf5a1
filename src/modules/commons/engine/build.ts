/**
 * The CPU-heavy part of indexing: read blobs from git, skip binaries, and build shards. Runs in a
 * worker thread (build-worker.ts) so the server keeps answering searches meanwhile; also callable
 * directly (tests, benchmarks).
 */
import { isUtf8 } from 'node:buffer';
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
  timings: { wallMs: number; buildMs: number; bytes: number }[];
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

export async function buildShards(input: BuildInput, onProgress?: (done: number, total: number) => void): Promise<BuildOutput> {
  const langs = new Map(input.blobs.map((b) => [b.sha, b.lang]));
  const out: BuildOutput = { shards: [], blobs: [], timings: [] };
  const t0 = performance.now();
  let buildMs = 0;
  let bytes = 0;
  const written: string[] = [];
  let writer: ShardWriter | null = null;
  let seq = 0;
  let done = 0;
  const pendingBlobs: BuiltBlob[] = [];
  const close = () => {
    if (!writer) return;
    if (writer.docCount > 0) {
      const t = performance.now();
      const r = writer.finish();
      buildMs += performance.now() - t;
      written.push(r.dir);
      out.shards.push({ name: writer.name, docs: r.docs, bytes: r.bytes, postings: r.postings });
    } else writer.abort();
    out.blobs.push(...pendingBlobs.splice(0));
    writer = null;
  };
  try {
    await catBlobs(
      input.gitDir,
      input.blobs.map((b) => b.sha),
      (sha, content) => {
        const t = performance.now();
        bytes += content.length;
        if (isBinary(content)) {
          out.blobs.push({ sha, size: content.length, status: 'binary', shard: null, lines: null });
        } else {
          if (!writer) writer = new ShardWriter(input.indexDir, `${input.shardPrefix}-${seq++}`, input.limits ?? DEFAULT_LIMITS);
          const w: ShardWriter = writer;
          w.add(sha, content, null, langs.get(sha) ?? null);
          pendingBlobs.push({ sha, size: content.length, status: 'indexed', shard: w.name, lines: w.lastLines });
          if (w.full()) close();
        }
        buildMs += performance.now() - t;
        done++;
        if (onProgress && (done % 200 === 0 || done === input.blobs.length)) onProgress(done, input.blobs.length);
      },
    );
    close();
    out.timings.push({ wallMs: performance.now() - t0, buildMs, bytes });
    return out;
  } catch (e) {
    (writer as ShardWriter | null)?.abort();
    const fs = await import('node:fs');
    for (const d of written) fs.rmSync(d, { recursive: true, force: true });
    throw e;
  }
}
