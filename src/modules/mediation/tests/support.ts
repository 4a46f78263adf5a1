/** Test helpers for the mediation module: places in the directory, mediators with profiles. */
import zlib from 'node:zlib';
import type { Db } from '../../../platform/db/index.ts';
import { getCommune } from '../../territories/index.ts';
import { upsertPlaces, type PlaceRecord } from '../../places/index.ts';

let n = 0;

/** Creates a directory place in a commune; returns its uid. The place sits at the commune's centre
 *  when the reference data has one, else without coordinates (a clone without ../shared has the
 *  COG's communes but no geometry: the place still belongs to its commune by its INSEE code). */
export async function makePlace(db: Db, commune = '76540', name = 'Espace numérique'): Promise<string> {
  const c = await getCommune(db, commune);
  if (!c) throw new Error(`commune ${commune} unknown`);
  const tag = `med-${Date.now().toString(36)}-${++n}`;
  const rec: PlaceRecord = {
    id: tag, pivot: '12345678900012', nom: `${name} ${n}`, commune: c.name, code_postal: c.postalCodes[0] ?? '00000', code_insee: c.code, adresse: '1 rue du Test', complement_adresse: null,
    latitude: c.lat ?? null, longitude: c.lon ?? null, typologie: [], telephone: null, courriels: [], site_web: [], horaires: null, presentation_resume: null, presentation_detail: null,
    source: 'Test', itinerance: [], structure_parente: null, date_maj: '2024-01-15', services: [], publics_specifiquement_adresses: [], prise_en_charge_specifique: [],
    frais_a_charge: [], dispositif_programmes_nationaux: [], formations_labels: [], autres_formations_labels: null, modalites_acces: [], modalites_accompagnement: [],
    fiche_acces_libre: null, prise_rdv: null,
  } as PlaceRecord;
  await upsertPlaces(db, [rec], { source: tag });
  const { rows } = await db.query<{ uid: string }>('SELECT uid FROM places.place WHERE import_source = $1', [tag]);
  return rows[0]!.uid;
}

/** Row counts of every mediation table (to check that a refused request changed nothing). */
export async function snapshot(db: Db): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of ['activity', 'activity_beneficiary', 'beneficiary', 'stat_counter', 'mediator', 'team']) {
    out[t] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM mediation.${t}`)).rows[0]!.n;
  }
  out.counterSum = Number((await db.query<{ s: number | null }>('SELECT coalesce(sum(value), 0)::bigint AS s FROM mediation.stat_counter')).rows[0]!.s);
  return out;
}

/** The files of a ZIP archive (an XLSX workbook), read with node:zlib: name → text. */
export function unzip(buf: Buffer): Map<string, string> {
  const { inflateRawSync } = zlib;
  const out = new Map<string, string>();
  // End of central directory: signature 0x06054b50, within the last 64 KiB.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory');
    const method = buf.readUInt16LE(p + 10);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + size);
    out.set(name, (method === 8 ? inflateRawSync(data) : data).toString('utf8'));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** The cells of an XLSX workbook's sheets as text rows (shared and inline strings resolved). */
export function xlsxSheets(buf: Buffer): Map<string, string[][]> {
  const files = unzip(buf);
  const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  const shared = [...(files.get('xl/sharedStrings.xml') ?? '').matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) => unescape([...m[1]!.matchAll(/<t[^>]*>([\s\S]*?)<\/t>/g)].map((t) => t[1]).join('')));
  const names = [...(files.get('xl/workbook.xml') ?? '').matchAll(/<sheet [^>]*name="([^"]*)"/g)].map((m) => unescape(m[1]!));
  const out = new Map<string, string[][]>();
  names.forEach((name, i) => {
    const xml = files.get(`xl/worksheets/sheet${i + 1}.xml`) ?? '';
    const rows = [...xml.matchAll(/<row[^>]*>([\s\S]*?)<\/row>/g)].map((r) =>
      [...r[1]!.matchAll(/<c ([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)].map((c) => {
        const type = /t="(\w+)"/.exec(c[1]!)?.[1];
        const inner = c[2] ?? '';
        if (type === 's') return shared[Number(/<v>(\d+)<\/v>/.exec(inner)?.[1])] ?? '';
        if (type === 'inlineStr') return unescape([...inner.matchAll(/<t[^>]*>([\s\S]*?)<\/t>/g)].map((t) => t[1]).join(''));
        return unescape(/<v>([\s\S]*?)<\/v>/.exec(inner)?.[1] ?? '');
      }),
    );
    out.set(name, rows);
  });
  return out;
}
