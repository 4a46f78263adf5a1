/**
 * Sending the claim e-mail through the accounts module's mailer (SMTP, and the development/test
 * outbox), so every message of the platform goes one way.
 *
 * The accounts module is asked to export `sendMailFromRequest(req, mail)` (see README.md). Until
 * it does, the mailer is reached through the runtime the accounts module attaches to the server —
 * the same object `sendMailFromRequest` would use.
 */
import type { FastifyRequest } from 'fastify';
import * as accounts from '../../accounts/index.ts';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

type Sender = (req: FastifyRequest, mail: Mail) => Promise<void>;

export async function sendMail(req: FastifyRequest, mail: Mail): Promise<void> {
  const exported = (accounts as unknown as { sendMailFromRequest?: Sender }).sendMailFromRequest;
  if (exported) return exported(req, mail);
  const runtime = (req.server as unknown as Record<symbol, { mailer?: { send(m: Mail): Promise<void> } } | undefined>)[Symbol.for('maillage.accounts.runtime')];
  if (!runtime?.mailer) throw new Error('The accounts module is not registered: e-mail cannot be sent.');
  await runtime.mailer.send(mail);
}
