/**
 * multipart/form-data for the back offices' upload forms (places: import file, mapping file;
 * roadmap: CSV import), so they work as plain HTML forms. Small and strict: at most a few parts, names and file names bounded,
 * the whole body within the server's body limit. Text fields become properties of the body (the
 * CSRF check reads `_csrf` there); files are under `files`.
 */
import type { App } from './server.ts';
import { UserError } from './errors.ts';

export interface UploadedFile {
  field: string;
  fileName: string;
  contentType: string;
  data: Buffer;
}

export interface MultipartBody {
  [field: string]: unknown;
  files: UploadedFile[];
}

const MAX_PARTS = 20;

export function parseMultipart(body: Buffer, contentType: string, maxParts = MAX_PARTS): MultipartBody {
  const m = /boundary=(?:"([^"]{1,70})"|([^;\s]{1,70}))/i.exec(contentType);
  if (!m) throw new UserError('Formulaire d’envoi de fichier mal formé (limite absente).', 400, 'file');
  const delimiter = Buffer.from(`--${m[1] ?? m[2]}`);
  const fields: Record<string, string> = {};
  const files: UploadedFile[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new UserError('Formulaire d’envoi de fichier mal formé.', 400, 'file');
  let parts = 0;
  for (;;) {
    pos += delimiter.length;
    if (body.subarray(pos, pos + 2).toString() === '--') break; // closing delimiter
    if (body.subarray(pos, pos + 2).toString() === '\r\n') pos += 2;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) throw new UserError('Formulaire d’envoi de fichier incomplet.', 400, 'file');
    const headers = body.subarray(pos, headerEnd).toString('utf8');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    if (next < 0) throw new UserError('Formulaire d’envoi de fichier incomplet (transfert interrompu ?).', 400, 'file');
    const data = body.subarray(headerEnd + 4, next);
    if (++parts > maxParts) throw new UserError('Formulaire d’envoi de fichier : trop de champs.', 400, 'file');
    const disposition = /content-disposition:\s*form-data;([^\r\n]*)/i.exec(headers)?.[1] ?? '';
    const name = /\bname="([^"]{1,100})"/i.exec(disposition)?.[1];
    const fileName = /\bfilename="([^"]{0,255})"/i.exec(disposition)?.[1];
    const type = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim() ?? 'application/octet-stream';
    if (name && name !== 'files') {
      if (fileName !== undefined) {
        if (fileName !== '' || data.length > 0) files.push({ field: name, fileName: fileName.replace(/^.*[\\/]/, '').slice(0, 200), contentType: type, data: Buffer.from(data) });
      } else {
        fields[name] = data.toString('utf8').slice(0, 10_000);
      }
    }
    pos = next + 2;
  }
  return { ...fields, files };
}

/** Registers the parser on an encapsulated scope (a module's upload routes): its routes accept multipart forms.
 *  `maxParts`: more fields than the default 20 (a survey's form has one per checkbox). */
export function acceptMultipart(app: App, o: { maxParts?: number } = {}): void {
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (req, body, done) => {
    try {
      done(null, parseMultipart(body as Buffer, String(req.headers['content-type'] ?? ''), o.maxParts));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

export function uploadedFile(body: unknown, field: string): UploadedFile | null {
  const files = (body as MultipartBody | undefined)?.files;
  return Array.isArray(files) ? (files.find((f) => f.field === field) ?? null) : null;
}
