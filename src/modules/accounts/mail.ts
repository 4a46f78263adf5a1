/**
 * Outgoing mail. With SMTP_URL set, messages go through SMTP (nodemailer). Outside production every
 * message is also stored in the outbox (accounts.outbox), shown at /compte/outbox and read by tests.
 * In production without SMTP_URL, sending fails loudly rather than losing messages.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../../platform/config.ts';
import type { Queryable } from '../../platform/db/index.ts';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface OutboxMessage {
  id: number;
  recipient: string;
  subject: string;
  body: string;
  createdAt: string;
}

export class Mailer {
  private transport: Transporter | null = null;

  constructor(
    private readonly db: Queryable,
    private readonly config: Config,
  ) {
    if (config.smtpUrl) this.transport = nodemailer.createTransport(config.smtpUrl);
  }

  get usesOutbox(): boolean {
    return this.config.env !== 'production';
  }

  /**
   * Sends a message. With `background`, the SMTP delivery is not awaited (failures go to
   * `onError`): used where the answer must not take longer when an account exists (password
   * reset, magic link), so response times tell nothing about who has an account.
   */
  async send(mail: Mail, o: { background?: boolean; onError?: (err: Error) => void } = {}): Promise<void> {
    if (this.usesOutbox) {
      await this.db.query('INSERT INTO accounts.outbox (recipient, subject, body) VALUES ($1, $2, $3)', [mail.to, mail.subject, mail.text]);
    }
    if (this.transport) {
      const sending = this.transport.sendMail({ from: this.config.mailFrom, to: mail.to, subject: mail.subject, text: mail.text });
      if (o.background) void sending.then(undefined, (err: Error) => o.onError?.(err));
      else await sending;
    } else if (!this.usesOutbox) {
      throw new Error('Mail cannot be sent: SMTP_URL is not configured.');
    }
  }
}

/** Messages in the development outbox, newest first (optionally for one recipient). */
export async function readOutbox(db: Queryable, recipient?: string, limit = 50): Promise<OutboxMessage[]> {
  const { rows } = await db.query<{ id: number; recipient: string; subject: string; body: string; created_at: Date }>(
    `SELECT id, recipient, subject, body, created_at FROM accounts.outbox
     ${recipient ? 'WHERE lower(recipient) = lower($2)' : 'WHERE $2::text IS NULL'} ORDER BY id DESC LIMIT $1`,
    [limit, recipient ?? null],
  );
  return rows.map((r) => ({ id: Number(r.id), recipient: r.recipient, subject: r.subject, body: r.body, createdAt: new Date(r.created_at).toISOString() }));
}
