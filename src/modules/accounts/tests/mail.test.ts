/**
 * E-mail through SMTP as configured by SMTP_URL: a minimal SMTP server on a loopback port receives
 * what nodemailer sends (invitation, and a reset link delivered in the background).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { testApp } from '../../../../test/support/app.ts';
import { inviteUser, requestPasswordReset } from '../service.ts';
import { depsOf, makeUser } from '../testing.ts';

interface Received {
  from: string;
  to: string[];
  data: string;
}

/** Just enough SMTP (RFC 5321) to accept messages: no TLS, no authentication. */
async function smtpServer(): Promise<{ url: string; messages: Received[]; close(): Promise<void> }> {
  const messages: Received[] = [];
  const server = net.createServer((sock) => {
    let buf = '';
    let inData = false;
    let current: Received = { from: '', to: [], data: '' };
    sock.write('220 test ESMTP\r\n');
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            messages.push(current);
            current = { from: '', to: [], data: '' };
            sock.write('250 OK queued\r\n');
          } else current.data += (line.startsWith('..') ? line.slice(1) : line) + '\n';
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') sock.write('250-test\r\n250 8BITMIME\r\n');
        else if (verb === 'MAIL') (current.from = line), sock.write('250 OK\r\n');
        else if (verb === 'RCPT') current.to.push(line), sock.write('250 OK\r\n');
        else if (verb === 'DATA') (inData = true), sock.write('354 End data with <CR><LF>.<CR><LF>\r\n');
        else if (verb === 'QUIT') sock.end('221 Bye\r\n');
        else sock.write('250 OK\r\n');
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, messages, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The text of a message, quoted-printable soft breaks and escapes undone. */
function text(m: Received): string {
  return m.data.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/g, (_s, h: string) => String.fromCharCode(parseInt(h, 16)));
}

describe('e-mail through SMTP_URL', () => {
  let smtp: Awaited<ReturnType<typeof smtpServer>>;
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    smtp = await smtpServer();
    t = await testApp({ smtpUrl: smtp.url, mailFrom: 'Maillage <ne-pas-repondre@exemple.fr>', signinDelayMs: 1 });
  });
  after(async () => {
    await t.close();
    await smtp.close();
  });

  test('an invitation is delivered by SMTP (and kept in the outbox outside production)', async () => {
    const { link } = await inviteUser(depsOf(t.app), null, { email: 'smtp@exemple.fr', displayName: 'Sam' });
    assert.equal(smtp.messages.length, 1);
    const m = smtp.messages[0]!;
    assert.match(m.from, /<ne-pas-repondre@exemple\.fr>/);
    assert.deepEqual(m.to.map((l) => /<([^>]+)>/.exec(l)![1]), ['smtp@exemple.fr']);
    assert.match(m.data, /^Subject: Votre compte Maillage$/m);
    assert.ok(text(m).includes(link.replace(/^https?:\/\/[^/]+/, '')), 'the link is in the message');
  });

  test('a reset link is delivered in the background: the request does not wait for SMTP', async () => {
    await makeUser(depsOf(t.app), 'smtp-reset@exemple.fr');
    const before = smtp.messages.length;
    await requestPasswordReset(depsOf(t.app), 'smtp-reset@exemple.fr', { ip: '192.0.2.99', userAgent: null });
    for (let i = 0; i < 100 && smtp.messages.length === before; i++) await new Promise((r) => setTimeout(r, 50));
    const m = smtp.messages.at(-1)!;
    assert.ok(m.to.some((l) => l.includes('smtp-reset@exemple.fr')));
    assert.match(text(m), /\/compte\/reinitialiser\//);
  });
});
