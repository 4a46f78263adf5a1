/** `maillage mandates <expire|purge|journal verify|api-token|stats|partner|oidc-key>` */
import type { CliCommand } from '../../platform/module.ts';
import { findUserByEmail } from '../accounts/index.ts';
import { createApiToken } from './routes.ts';
import { handleIdleHelpers, helperMail, noteExpired, purgeIdentities, sendExpiryReminders, statistics, verifyJournal } from './service.ts';
import { IDLE_DAYS, REMINDER_DAYS } from './model.ts';
import { UserError } from '../../platform/http/errors.ts';
import type { CliContext } from '../../platform/module.ts';
import { MOUNT, addPartner, listKeys, listPartners, retireKey, revokePartner, rotateKey } from './provider.ts';
import { startPartnerDemo } from './partner-demo.ts';
import { parseJournalHead } from './journal.ts';

const USAGE = `mandates expire                          journal the mandates that reached their end
mandates purge                           delete the identities of people whose mandates ended more than MANDATES_RETENTION_MONTHS ago
mandates remind                          e-mail the structures' helpers about mandates ending within ${REMINDER_DAYS} days (once per mandate)
mandates idle                            warn helpers idle for 5 months, deactivate those idle for ${IDLE_DAYS} days (warned a week before at least)
mandates journal verify [--expect-head SEQ:HASH] [--parallel N]   check the whole mandates journal: its keyed chain, and rows from before
                                         migration 006 against the audit chain (exit 1 when broken, naming the entry); prints the head to note
mandates stats                           totals, by procedure and duration (JSON)
mandates api-token NAME --helper EMAIL   create a partner-tool token for a helper (printed once)
mandates partner add NAME --redirect-uri URL [--redirect-uri URL…]   register a partner service (OIDC client; its secret is printed once)
mandates partner list                    the partner services (client id, name, redirect URIs, revoked)
mandates partner revoke CLIENT_ID        revoke a partner service (its tokens stop working)
mandates partner demo [--port N]         run the demo partner service against this Maillage (development)
mandates oidc-key list|rotate|retire KID the provider's signing keys (rotate: a new key signs after each instance restarts)`;

export const mandatesCommand: CliCommand = {
  summary: 'Mandates: expiry, reminders, idle helpers, retention purge, journal verification, statistics, API tokens, partner services (OIDC)',
  usage: USAGE,
  async run(args, ctx) {
    const [sub, arg] = args;
    if (sub === 'expire') {
      const n = await noteExpired(ctx);
      ctx.out(`${n} mandate${n === 1 ? '' : 's'} noted as expired.`);
      return 0;
    }
    if (sub === 'purge') {
      await noteExpired(ctx);
      const n = await purgeIdentities(ctx, ctx.config.mandatesRetentionMonths);
      ctx.out(`${n} identit${n === 1 ? 'y' : 'ies'} deleted (retention ${ctx.config.mandatesRetentionMonths} months after the last mandate ended).`);
      return 0;
    }
    if (sub === 'remind') {
      const mail = helperMail(ctx);
      const n = await sendExpiryReminders(ctx, mail.send, mail.userEmail);
      ctx.out(`${n} mandate${n === 1 ? '' : 's'} ending within ${REMINDER_DAYS} days: their helpers were reminded.`);
      return 0;
    }
    if (sub === 'idle') {
      const mail = helperMail(ctx);
      const r = await handleIdleHelpers(ctx, mail.send, mail.userEmail);
      ctx.out(`${r.warned} helper${r.warned === 1 ? '' : 's'} warned, ${r.deactivated} deactivated for inactivity.`);
      return 0;
    }
    if (sub === 'journal' && arg === 'verify') {
      const opts: { expectHead?: string; parallel?: number } = {};
      for (let i = 2; i < args.length; i++) {
        const v = args[i + 1];
        if (args[i] === '--expect-head' && v !== undefined) opts.expectHead = v;
        else if (args[i] === '--parallel' && v !== undefined && /^[1-9]\d?$/.test(v)) opts.parallel = Number(v);
        else throw new UserError(`mandates journal verify: unexpected argument "${String(args[i]).slice(0, 100)}" (options: --expect-head SEQ:HASH, --parallel 1-99)`);
        i++;
      }
      if (opts.expectHead !== undefined) parseJournalHead(opts.expectHead); // a malformed anchor is a usage error, before any work
      const started = Date.now();
      const r = await verifyJournal(ctx.db, opts);
      const took = `${((Date.now() - started) / 1000).toFixed(1)} s`;
      if (r.ok) {
        ctx.out(`Mandates journal intact: ${r.entries} entries (${took}).${r.head ? ` Head to note (--expect-head): ${r.head}` : ''}`);
        return 0;
      }
      ctx.out(`Mandates journal BROKEN after ${r.entries} good entries${r.seq === null ? '' : ` at entry ${r.seq}`}${r.journalId === null ? '' : ` (row ${r.journalId})`}: ${r.reason}`);
      return 1;
    }
    if (sub === 'stats') {
      ctx.out(JSON.stringify(await statistics(ctx.db), null, 2));
      return 0;
    }
    if (sub === 'api-token' && arg) {
      const i = args.indexOf('--helper');
      const email = i >= 0 ? args[i + 1] : undefined;
      const user = email ? await findUserByEmail(ctx.db, email) : null;
      if (!user) {
        ctx.out(`Unknown helper account: ${email ?? '(missing --helper)'}`);
        return 2;
      }
      const t = await createApiToken(ctx.db, null, arg, user.id);
      ctx.out(`API token ${t.id} created. Token (shown once): ${t.token}`);
      return 0;
    }
    if (sub === 'partner') return partnerCommand(args.slice(1), ctx);
    if (sub === 'oidc-key') return keyCommand(args.slice(1), ctx);
    ctx.out(`Usage:\n${USAGE}`);
    return 2;
  },
};

/** The values after each `flag` in args. */
const valuesOf = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag && args[i + 1] !== undefined ? [args[i + 1]!] : []));

async function partnerCommand(args: string[], ctx: CliContext): Promise<number> {
  const [action, arg] = args;
  try {
    if (action === 'add' && arg) {
      const p = await addPartner(ctx, null, { name: arg, redirectUris: valuesOf(args, '--redirect-uri') });
      ctx.out(`Partner service registered.\nclient_id:     ${p.clientId}\nclient_secret: ${p.clientSecret}   (shown once, stored hashed)\ndiscovery:     ${ctx.config.publicUrl}${MOUNT}/.well-known/openid-configuration`);
      return 0;
    }
    if (action === 'list') {
      for (const p of await listPartners(ctx.db)) ctx.out(`${p.clientId}  ${p.name}  ${p.redirectUris.join(' ')}${p.revokedAt ? `  (revoked ${p.revokedAt})` : ''}`);
      return 0;
    }
    if (action === 'revoke' && arg) {
      await revokePartner(ctx, null, arg);
      ctx.out(`Partner service ${arg} revoked.`);
      return 0;
    }
    if (action === 'demo') {
      const port = Number(valuesOf(args, '--port')[0] ?? 4100);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError('--port: a port number.', 400, 'port');
      const issuer = `${ctx.config.publicUrl}${MOUNT}`;
      const demo = await startPartnerDemo({ issuer, port, insecure: issuer.startsWith('http:'), name: 'Service partenaire de démonstration' });
      const p = await addPartner(ctx, null, { name: `Démo partenaire (port ${port})`, redirectUris: [demo.redirectUri] });
      demo.useClient(p.clientId, p.clientSecret);
      ctx.out(`Demo partner service at ${demo.url} (client ${p.clientId}), against ${issuer} — Maillage must be serving there. Ctrl-C to stop (then: mandates partner revoke ${p.clientId}).`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      await demo.close();
      return 0;
    }
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    ctx.out(`${e.field ? `${e.field}: ` : ''}${e.message}`);
    return 2;
  }
  ctx.out(`Usage:\n${USAGE}`);
  return 2;
}

async function keyCommand(args: string[], ctx: CliContext): Promise<number> {
  const [action, arg] = args;
  try {
    if (action === 'list') {
      for (const k of await listKeys(ctx.db)) ctx.out(`${k.kid}  created ${k.createdAt}${k.retiredAt ? `  retired ${k.retiredAt}` : '  in use'}`);
      return 0;
    }
    if (action === 'rotate') {
      const kid = await rotateKey(ctx);
      ctx.out(`New signing key ${kid}: it signs once each instance restarts; the older keys stay published. Retire them (mandates oidc-key retire KID) once every instance restarted and their tokens expired (10 minutes).`);
      return 0;
    }
    if (action === 'retire' && arg) {
      await retireKey(ctx, arg);
      ctx.out(`Key ${arg} retired (restart the instances so they stop publishing it).`);
      return 0;
    }
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    ctx.out(e.message);
    return 2;
  }
  ctx.out(`Usage:\n${USAGE}`);
  return 2;
}
