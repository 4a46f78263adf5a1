/**
 * A realistic, deterministic demo base: places spread over real communes in proportion to their
 * population, valid against the standard, with varied hours, services and publics. Also what the
 * benchmarks generate (20,000 and 200,000 places).
 */
import type { Commune } from '../territories/index.ts';
import type { PlaceRecord } from './model/types.ts';

/** Small, fast, seedable PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KINDS: { weight: number; name: (c: string) => string; typologie: string[]; services: string[]; dispositifs?: string[] }[] = [
  { weight: 22, name: (c) => `Médiathèque de ${c}`, typologie: ['BIB', 'MUNI'], services: ['Accès internet et matériel informatique', 'Maîtrise des outils numériques du quotidien', 'Loisirs et créations numériques'] },
  { weight: 16, name: (c) => `France Services ${c}`, typologie: ['RFS'], services: ['Aide aux démarches administratives', 'Accès internet et matériel informatique'], dispositifs: ['France Services'] },
  { weight: 14, name: (c) => `Espace public numérique de ${c}`, typologie: ['EPN'], services: ['Maîtrise des outils numériques du quotidien', 'Utilisation sécurisée du numérique', 'Accès internet et matériel informatique'], dispositifs: ['Conseillers numériques'] },
  { weight: 10, name: (c) => `CCAS de ${c}`, typologie: ['CCAS'], services: ['Aide aux démarches administratives'], dispositifs: ['Aidants Connect'] },
  { weight: 9, name: (c) => `Tiers-lieu La Fabrique ${c}`, typologie: ['TIERS_LIEUX', 'ASSO'], services: ['Loisirs et créations numériques', 'Compréhension du monde numérique', 'Insertion professionnelle via le numérique'] },
  { weight: 6, name: (c) => `Fablab ${c}`, typologie: ['FABLAB', 'ASSO'], services: ['Loisirs et créations numériques', 'Compréhension du monde numérique'] },
  { weight: 6, name: (c) => `Mairie de ${c}`, typologie: ['MUNI'], services: ['Aide aux démarches administratives'] },
  { weight: 5, name: (c) => `Association Connexions Solidaires ${c}`, typologie: ['ASSO'], services: ['Maîtrise des outils numériques du quotidien', 'Parentalité et éducation avec le numérique', 'Acquisition de matériel informatique à prix solidaire'], dispositifs: ['Emmaüs Connect'] },
  { weight: 4, name: (c) => `Espace coworking ${c}`, typologie: ['TIERS_LIEUX'], services: ['Accès internet et matériel informatique'] },
  { weight: 4, name: (c) => `Centre social de ${c}`, typologie: ['CS'], services: ['Aide aux démarches administratives', 'Parentalité et éducation avec le numérique'], dispositifs: ['Point d\'accès numérique CAF'] },
  { weight: 4, name: (c) => `Mission locale de ${c}`, typologie: ['ML'], services: ['Insertion professionnelle via le numérique', 'Aide aux démarches administratives'], dispositifs: ['Promeneurs du net'] },
];

const HOURS = [
  'Mo-Fr 09:00-12:00,14:00-17:30',
  'Mo-Fr 09:00-12:00,13:30-17:00; Sa 09:00-12:00',
  'Tu-Sa 10:00-18:00',
  'Mo,We,Fr 14:00-18:00; Sa 10:00-12:30',
  'Mo-Th 08:30-12:30,13:30-17:00; Fr 08:30-12:00',
  'Tu 14:00-18:00; We 10:00-12:00,14:00-18:00; Sa 10:00-17:00',
  'Mo-Fr 09:00-17:00; PH off',
  'Mo-Fr 09:00-12:00,14:00-18:00; Sa 09:00-12:00; PH off',
  'Mo-Fr 09:00-18:00; Jul-Aug Mo-Fr 09:00-12:00',
  'We 14:00-17:00; Sa 09:30-12:30',
  'Mo-Sa 10:00-19:00; Su 14:00-18:00',
];

const STREETS = ['rue de la République', 'place de la Mairie', 'avenue Jean Jaurès', 'rue Victor Hugo', 'rue du Général de Gaulle', 'boulevard Pasteur', 'rue de l’Église', 'place du Marché', 'rue des Écoles', 'allée des Tilleuls', 'rue Jules Ferry', 'chemin du Moulin'];
const PUBLICS = ['Jeunes', 'Étudiants', 'Familles et/ou enfants', 'Seniors', 'Femmes'];
const PRISE = ['Surdité', 'Handicaps moteurs', 'Handicaps mentaux', 'Illettrisme', 'Langues étrangères (anglais)', 'Langues étrangères (autres)', 'Déficience visuelle'];
const FRAIS = [['Gratuit'], ['Gratuit'], ['Gratuit'], ['Gratuit sous condition'], ['Payant'], ['Gratuit', 'Payant']];
const ACCES = ['Se présenter', 'Téléphoner', 'Contacter par mail', 'Prendre un RDV en ligne'];
const ACCOMP = ['En autonomie', 'Accompagnement individuel', 'Dans un atelier collectif', 'À distance'];
const LABELS = ['Formé à « Mon Espace Santé »', 'Formé à « DUPLEX » (illettrisme)', 'Fabriques de Territoire', 'ORDI 3.0'];

function pick<T>(r: () => number, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)]!;
}

function some<T>(r: () => number, items: readonly T[], p: number, min = 0): T[] {
  const out = items.filter(() => r() < p);
  while (out.length < min) {
    const x = pick(r, items);
    if (!out.includes(x)) out.push(x);
  }
  return out;
}

function siret(r: () => number): string {
  let s = '';
  for (let i = 0; i < 14; i++) s += Math.floor(r() * 10);
  return s;
}

/**
 * Generates `count` places over the given communes (those with a centre), weighted by population.
 * Same seed and communes → same places. Without any commune centre (no reference geography
 * loaded), the places get an address but no coordinates; without any commune, none.
 */
export function generatePlaces(communes: Commune[], count: number, seed = 2026): PlaceRecord[] {
  const r = rng(seed);
  const candidates = communes.filter((c) => c.kind === 'commune' && c.postalCodes.length > 0);
  const located = candidates.filter((c) => c.lat !== null && c.lon !== null);
  const usable = located.length > 0 ? located : candidates;
  if (usable.length === 0) return [];
  usable.sort((a, b) => a.code.localeCompare(b.code));
  // Population weights, dampened so small communes still get places (the real map looks like that).
  const weights = usable.map((c) => Math.sqrt(Math.max(c.population, 50)));
  const cumulative: number[] = [];
  let total = 0;
  for (const w of weights) cumulative.push((total += w));
  const kindTotal = KINDS.reduce((s, k) => s + k.weight, 0);
  const places: PlaceRecord[] = [];
  for (let i = 0; i < count; i++) {
    const x = r() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    const c = usable[lo]!;
    let k = r() * kindTotal;
    let kind = KINDS[0]!;
    for (const candidate of KINDS) {
      if ((k -= candidate.weight) <= 0) {
        kind = candidate;
        break;
      }
    }
    // Within ~1.5 km of the commune centre (more spread in big towns).
    const spread = c.population > 50_000 ? 0.03 : 0.012;
    const dLat = (r() - 0.5) * spread;
    const dLon = (r() - 0.5) * spread * 1.4;
    const lat = c.lat === null ? null : Math.round((c.lat + dLat) * 1e5) / 1e5;
    const lon = c.lon === null ? null : Math.round((c.lon + dLon) * 1e5) / 1e5;
    const services = some(r, kind.services, 0.8, 1);
    if (r() < 0.25) services.push(pick(r, ['Utilisation sécurisée du numérique', 'Aide aux démarches administratives', 'Maîtrise des outils numériques du quotidien'].filter((s) => !services.includes(s)) as string[]));
    const acces = some(r, ACCES, 0.45, 1);
    const booking = acces.includes('Prendre un RDV en ligne');
    const month = 1 + Math.floor(r() * 12);
    const day = 1 + Math.floor(r() * 28);
    const slugCommune = c.name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-');
    const phone = `+33${pick(r, ['1', '2', '3', '4', '5'])}${String(Math.floor(r() * 1e8)).padStart(8, '0')}`;
    const name = kind.name(c.name);
    places.push({
      id: `demo-${String(i + 1).padStart(6, '0')}`,
      pivot: siret(r),
      nom: name,
      commune: c.name,
      code_postal: c.postalCodes[0]!,
      code_insee: c.code,
      adresse: `${1 + Math.floor(r() * 120)} ${pick(r, STREETS)}`,
      complement_adresse: r() < 0.15 ? pick(r, ['Rez-de-chaussée', '1er étage', 'Entrée par la cour', 'Bâtiment B']) : null,
      latitude: lat,
      longitude: lon,
      typologie: kind.typologie,
      telephone: r() < 0.85 ? phone : null,
      courriels: r() < 0.7 ? [`contact@${slugCommune}.example.org`] : [],
      site_web: r() < 0.5 ? [`https://www.${slugCommune}.example.org/numerique`] : [],
      horaires: r() < 0.92 ? pick(r, HOURS) : null,
      presentation_resume: `${name} vous accompagne : ${services.map((s) => s.toLowerCase()).join(', ')}.`.slice(0, 280),
      presentation_detail: r() < 0.4 ? 'Accueil par des médiatrices et médiateurs numériques formés. Venez avec vos identifiants et vos justificatifs si vous avez une démarche à faire.' : null,
      source: 'Maillage (démonstration)',
      itinerance: r() < 0.04 ? ['Itinérant'] : ['Fixe'],
      structure_parente: kind.typologie.includes('MUNI') || kind.typologie.includes('BIB') ? `Commune de ${c.name}` : null,
      date_maj: `202${4 + Math.floor(r() * 3)}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
      services,
      publics_specifiquement_adresses: r() < 0.3 ? some(r, PUBLICS, 0.3, 1) : [],
      prise_en_charge_specifique: r() < 0.35 ? some(r, PRISE, 0.25, 1) : [],
      frais_a_charge: pick(r, FRAIS),
      dispositif_programmes_nationaux: kind.dispositifs ? some(r, kind.dispositifs, 0.9) : [],
      formations_labels: r() < 0.1 ? [pick(r, LABELS)] : [],
      autres_formations_labels: null,
      modalites_acces: acces,
      modalites_accompagnement: some(r, ACCOMP, 0.5, 1),
      fiche_acces_libre: r() < 0.2 ? `https://acceslibre.beta.gouv.fr/app/${c.departement}-${slugCommune}/a/lieu/erp/demo-${i + 1}/` : null,
      prise_rdv: booking ? `https://rdv.example.org/${slugCommune}/${i + 1}` : null,
    });
  }
  return places;
}
