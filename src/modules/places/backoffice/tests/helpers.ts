/** Shared pieces of the back-office tests: known places, a multipart form poster. */
import type { App } from '../../../../platform/http/server.ts';
import type { Db } from '../../../../platform/db/index.ts';
import type { PlaceRecord } from '../../model/types.ts';
import { upsertPlaces } from '../../service.ts';
import type { accountsTesting } from '../../../accounts/index.ts';

type Browser = accountsTesting.Browser;
type Res = accountsTesting.Res;

export function record(p: Partial<PlaceRecord> & Pick<PlaceRecord, 'id' | 'nom'>): PlaceRecord {
  return {
    pivot: '21270229200013', commune: 'Évreux', code_postal: '27000', code_insee: '27229', adresse: '1 place Sepmanville', complement_adresse: null,
    latitude: 49.0252, longitude: 1.1513, typologie: ['BIB'], telephone: '+33232787000', courriels: ['accueil@mediatheque.example.org'], site_web: [],
    horaires: 'Mo-Fr 09:00-17:00', presentation_resume: 'Ordinateurs en libre accès.', presentation_detail: null, source: 'Tests', itinerance: [],
    structure_parente: null, date_maj: '2024-03-01', services: ['Accès internet et matériel informatique'], publics_specifiquement_adresses: [],
    prise_en_charge_specifique: [], frais_a_charge: ['Gratuit'], dispositif_programmes_nationaux: [], formations_labels: [], autres_formations_labels: null,
    modalites_acces: ['Se présenter'], modalites_accompagnement: [], fiche_acces_libre: null, prise_rdv: null,
    ...p,
  };
}

export const LYON = { commune: 'Lyon', code_postal: '69001', code_insee: '69123', latitude: 45.7676, longitude: 4.8345 };

export async function addPlace(db: Db, r: PlaceRecord, source = 'tests'): Promise<string> {
  await upsertPlaces(db, [r], { source });
  const { rows } = await db.query<{ uid: string }>('SELECT uid FROM places.place WHERE import_source = $1 AND id = $2', [source, r.id]);
  return rows[0]!.uid;
}

/** Posts a multipart form (file upload) the way a browser does, with the browser's cookies and CSRF token. */
export async function postMultipart(app: App, b: Browser, url: string, fields: Record<string, string>, files: { field: string; fileName: string; content: Buffer | string; type?: string }[], o: { csrf?: boolean } = {}): Promise<Res> {
  const boundary = '----maillage' + Math.random().toString(16).slice(2);
  const parts: Buffer[] = [];
  const all = { ...(o.csrf === false || !b.csrf ? {} : { _csrf: b.csrf }), ...fields };
  for (const [k, v] of Object.entries(all)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  for (const f of files) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.field}"; filename="${f.fileName}"\r\nContent-Type: ${f.type ?? 'text/csv'}\r\n\r\n`));
    parts.push(Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content));
    parts.push(Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  const res = await app.inject({
    method: 'POST',
    url,
    remoteAddress: b.ip,
    payload: Buffer.concat(parts),
    headers: {
      accept: 'text/html',
      'content-type': `multipart/form-data; boundary=${boundary}`,
      cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      'user-agent': 'test-browser',
    },
  });
  const m = /name="_csrf" value="([^"]+)"/.exec(res.body);
  if (m) b.csrf = m[1]!;
  return { status: res.statusCode, body: res.body, headers: res.headers, location: res.headers.location as string | undefined };
}
