/** `maillage commons <add|index|search|blocks|duplicates|stats>` */
import fs from 'node:fs';
import type { CliCommand, CliContext } from '../../platform/module.ts';
import * as service from './service.ts';
import type { IndexOptions } from './model.ts';
import { DEFAULT_INDEX_OPTIONS } from './model.ts';

const USAGE = `commons add <git-url|path> [--name N] [--licence SPDX] [--description TEXT]
commons index [name] [--max-file-size BYTES] [--exclude GLOB]...   (all repositories without a name)
commons search "<query>" [--limit N] [--offset N]
commons blocks <file>                      (block search for the content of a file)
commons duplicates [--limit N]
commons stats`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
function flags(args: string[], name: string): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    if (a === name && args[i + 1] !== undefined) out.push(args[i + 1]!);
  });
  return out;
}
function positional(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i]!.startsWith('--')) i++;
    else out.push(args[i]!);
  }
  return out;
}

async function index(ctx: CliContext, name: string, options: Partial<IndexOptions>) {
  let bar: ReturnType<CliContext['progress']> | null = null;
  let last = 0;
  const r = await service.indexRepository(ctx, name, {
    options,
    onProgress: (p) => {
      if (p.phase === 'read' && p.total !== undefined) {
        bar ??= ctx.progress(`${name}: blobs`, p.total);
        bar.tick((p.done ?? 0) - last);
        last = p.done ?? 0;
      }
    },
  });
  (bar as ReturnType<CliContext['progress']> | null)?.done(`${r.newBlobs} new blobs`);
  const skipped = Object.entries(r.skipped).map(([k, v]) => `${k} ${v}`).join(', ');
  ctx.out(`${r.repository}: ${r.files} files at ${r.headCommit.slice(0, 12)}, ${r.refs} ref(s), ${r.newBlobs} new blobs (${(r.indexedBytes / 1048576).toFixed(1)} MB), ${r.shards} new shard(s)${skipped ? `; skipped: ${skipped}` : ''}`);
}

export const commonsCommand: CliCommand = {
  summary: 'Software commons: add and index repositories, search code',
  usage: 'commons <add|index|search|blocks|duplicates|stats> …',
  async run(args, ctx) {
    const [sub, ...rest] = args;
    const pos = positional(rest);
    switch (sub) {
      case 'add': {
        if (!pos[0]) throw new Error(`commons add: missing <git-url|path>\n${USAGE}`);
        const r = await service.addRepository(ctx, pos[0], { name: flag(rest, '--name'), licence: flag(rest, '--licence'), description: flag(rest, '--description') });
        ctx.out(r.created ? `Added "${r.software.slug}" (repository ${pos[0]}). Index it with: maillage commons index ${r.software.slug}` : `Already in the catalogue as "${r.software.slug}".`);
        return 0;
      }
      case 'index': {
        const max = flag(rest, '--max-file-size');
        if (max !== undefined && !/^\d+$/.test(max)) throw new Error('commons index: --max-file-size must be a number of bytes');
        const excl = flags(rest, '--exclude');
        const options: Partial<IndexOptions> = {};
        if (max) options.maxFileSize = Number(max);
        if (excl.length) options.vendored = [...DEFAULT_INDEX_OPTIONS.vendored, ...excl];
        const names = pos[0] ? [pos[0]] : (await service.allRepositories(ctx)).map((r) => r.name);
        let failed = 0;
        for (const n of names) {
          try {
            await index(ctx, n, options);
          } catch (e) {
            failed++;
            process.stderr.write(`${n}: ${(e as Error).message}\n`);
          }
        }
        return failed ? 1 : 0;
      }
      case 'search': {
        if (!pos[0]) throw new Error('commons search: missing "<query>"');
        const r = await service.search(ctx, pos.join(' '), { limit: Number(flag(rest, '--limit') ?? 20), offset: Number(flag(rest, '--offset') ?? 0), context: 0 });
        for (const g of r.groups) {
          for (const f of g.files) {
            for (const l of f.lines) if (!l.context) ctx.out(`${g.repository}/${f.path}:${l.line}: ${l.text}`);
            if (f.moreLines) ctx.out(`${g.repository}/${f.path}: more matching lines than the ${f.matchCount} listed (the file view shows them all)`);
          }
        }
        ctx.out(`${r.fileCount} file(s), ${r.matchCount} match(es)${r.truncated ? ' (partial)' : ''}`);
        if (r.notice) ctx.out(r.notice);
        return 0;
      }
      case 'blocks': {
        if (!pos[0]) throw new Error('commons blocks: missing <file>');
        const r = await service.blockSearch(ctx, fs.readFileSync(pos[0], 'utf8'));
        for (const m of r.matches) {
          for (const x of [m, ...m.otherSpans]) {
            ctx.out(`${x === m ? '' : '  also '}${(x.similarity * 100).toFixed(0)}%${x.exact ? ' exact' : x.identical ? ' identical' : ''} ${m.repository}/${m.path}:${x.lines[0]}-${x.lines[1]} (block lines ${x.queryLines[0]}-${x.queryLines[1]}) ${x.permalink}`);
          }
        }
        if (!r.matches.length) ctx.out('No similar block found.');
        return 0;
      }
      case 'duplicates': {
        const groups = await service.duplicates(ctx, Number(flag(rest, '--limit') ?? 20));
        for (const g of groups) {
          ctx.out(`${g.repositories.length} projects: ${g.repositories.join(', ')}`);
          for (const p of g.places.slice(0, 10)) ctx.out(`  ${p.repository}/${p.path}:${p.lines[0]}-${p.lines[1]}`);
        }
        return 0;
      }
      case 'stats': {
        ctx.out(JSON.stringify(await service.indexStats(ctx), null, 2));
        return 0;
      }
      default:
        ctx.out(USAGE);
        return sub ? 2 : 0;
    }
  },
};
