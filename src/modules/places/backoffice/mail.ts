/**
 * Sending the claim e-mail through the accounts module's mailer (SMTP, and the development/test
 * outbox outside production), so every message of the platform goes one way.
 */
import type { FastifyRequest } from 'fastify';
import { sendMailFromRequest } from '../../accounts/index.ts';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export async function sendMail(req: FastifyRequest, mail: Mail): Promise<void> {
  await sendMailFromRequest(req, mail);
}
