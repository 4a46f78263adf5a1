/**
 * `maillage audit head | verify [--expect-head H]`: the operator's side of the audit trail
 * (registered by the accounts module, which owns the journal's pages).
 */
import type { CliCommand } from '../module.ts';
import { auditHead, verifyAudit } from './index.ts';

export const auditCommand: CliCommand = {
  summary: 'The audit trail: print its head to note down, or check every entry (and that a noted head is still there)',
  usage: 'audit head | audit verify [--expect-head H]',
  async run(args, ctx) {
    const [sub, ...rest] = args;
    if (sub === 'head' && rest.length === 0) {
      const head = await auditHead(ctx.db);
      ctx.out(head.token);
      ctx.out(
        `Entry ${head.seq}${head.at ? ` of ${head.at}` : ''}${head.legacyCount ? `; the first ${head.legacyCount} entries predate the keyed chain` : ''}. ` +
          'Note this head outside the server; "maillage audit verify --expect-head <it>" later fails if history was rewritten or truncated since.',
      );
      return 0;
    }
    const at = rest.indexOf('--expect-head');
    const expectHead = at >= 0 ? rest[at + 1] : undefined;
    if (sub !== 'verify' || (at >= 0 && !expectHead) || rest.length !== (at >= 0 ? 2 : 0)) {
      ctx.out('Usage: maillage audit head | maillage audit verify [--expect-head <entry>:<hash>]');
      return 2;
    }
    const r = await verifyAudit(ctx.db, { expectHead });
    if (r.ok) {
      const legacy = r.legacyCount ? ` (the first ${r.legacyCount} written before the chain was keyed, checked without a key)` : '';
      ctx.out(`Audit trail intact: ${r.count} entries${legacy}, head ${r.headHash}.`);
      if (expectHead) ctx.out(`The expected head is in the chain; the head now is ${r.headSeq}:${r.headHash}.`);
      return 0;
    }
    ctx.out(`Audit trail BROKEN at entry ${r.seq}: ${r.reason}. ${r.count} entries before it verified.`);
    return 1;
  },
};
