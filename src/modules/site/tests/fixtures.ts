/**
 * Known places for the site's server and browser tests: a few hand-written places in Évreux,
 * Vernon and Rouen (Normandie) plus enough numbered ones around Évreux to need two pages.
 */
import type { PlaceRecord } from '../../places/model/types.ts';

function record(p: Partial<PlaceRecord> & Pick<PlaceRecord, 'id' | 'nom' | 'commune' | 'code_postal' | 'adresse'>): PlaceRecord {
  return {
    pivot: '21270229200013',
    code_insee: null,
    complement_adresse: null,
    latitude: null,
    longitude: null,
    typologie: [],
    telephone: null,
    courriels: [],
    site_web: [],
    horaires: null,
    presentation_resume: null,
    presentation_detail: null,
    source: 'Tests Maillage',
    itinerance: [],
    structure_parente: null,
    date_maj: '2026-09-15',
    services: [],
    publics_specifiquement_adresses: [],
    prise_en_charge_specifique: [],
    frais_a_charge: [],
    dispositif_programmes_nationaux: [],
    formations_labels: [],
    autres_formations_labels: null,
    modalites_acces: [],
    modalites_accompagnement: [],
    fiche_acces_libre: null,
    prise_rdv: null,
    ...p,
  };
}

export const EVREUX = { code: '27229', cp: '27000', lat: 49.0241, lon: 1.1508 };

export const MEDIATHEQUE = record({
  id: 'site-test-mediatheque',
  nom: 'Médiathèque Rolland-Plaisance',
  commune: 'Évreux',
  code_postal: '27000',
  code_insee: '27229',
  adresse: '1 place Sepmanville',
  latitude: 49.0252,
  longitude: 1.1513,
  typologie: ['BIB'],
  telephone: '+33232787000',
  courriels: ['mediatheque@example.org'],
  site_web: ['https://mediatheque.example.org/'],
  horaires: 'Mo-Sa 10:00-18:00; PH off',
  presentation_resume: 'Des ordinateurs en libre accès et des ateliers pour apprendre à utiliser son smartphone.',
  services: ['Accès internet et matériel informatique', 'Maîtrise des outils numériques du quotidien'],
  publics_specifiquement_adresses: ['Seniors'],
  frais_a_charge: ['Gratuit'],
  modalites_acces: ['Se présenter', 'Téléphoner'],
  modalites_accompagnement: ['En autonomie', 'Dans un atelier collectif'],
  fiche_acces_libre: 'https://acceslibre.beta.gouv.fr/app/27-evreux/a/bibliotheque-mediatheque/erp/mediatheque-test/',
});

export const FRANCE_SERVICES = record({
  id: 'site-test-france-services',
  nom: 'France Services Évreux Nétreville',
  commune: 'Évreux',
  code_postal: '27000',
  code_insee: '27229',
  adresse: '12 rue de Nétreville',
  latitude: 49.0205,
  longitude: 1.1702,
  typologie: ['RFS'],
  telephone: '+33232310000',
  horaires: 'Mo-Fr 09:00-12:00,14:00-17:00',
  services: ['Aide aux démarches administratives'],
  frais_a_charge: ['Gratuit'],
  dispositif_programmes_nationaux: ['France Services', 'Aidants Connect'],
  modalites_acces: ['Prendre un RDV en ligne', 'Téléphoner'],
  modalites_accompagnement: ['Accompagnement individuel'],
  prise_rdv: 'https://rdv.example.org/evreux',
});

export const EPN_WEEKEND = record({
  id: 'site-test-epn',
  nom: 'Espace numérique de la Madeleine',
  commune: 'Évreux',
  code_postal: '27000',
  code_insee: '27229',
  adresse: '5 rue Jean Bart',
  latitude: 49.0102,
  longitude: 1.1401,
  typologie: ['EPN'],
  horaires: 'Tu-Sa 14:00-18:00',
  services: ['Loisirs et créations numériques', 'Maîtrise des outils numériques du quotidien'],
  prise_en_charge_specifique: ['Surdité', 'Langues étrangères (anglais)'],
  frais_a_charge: ['Payant'],
  modalites_accompagnement: ['Dans un atelier collectif'],
});

export const VERNON = record({
  id: 'site-test-vernon',
  nom: 'Atelier numérique de Vernon',
  commune: 'Vernon',
  code_postal: '27200',
  code_insee: '27681',
  adresse: '3 avenue Victor Hugo',
  latitude: 49.0929,
  longitude: 1.4853,
  typologie: ['ASSO'],
  horaires: 'We 14:00-17:00',
  services: ['Utilisation sécurisée du numérique'],
  frais_a_charge: ['Gratuit sous condition'],
  itinerance: ['Itinérant'],
});

export const ROUEN = record({
  id: 'site-test-rouen',
  nom: 'Point numérique CAF de Rouen',
  commune: 'Rouen',
  code_postal: '76000',
  code_insee: '76540',
  adresse: '2 rue Jean Lecanuet',
  latitude: 49.4431,
  longitude: 1.0993,
  services: ['Aide aux démarches administratives'],
  dispositif_programmes_nationaux: ["Point d'accès numérique CAF"],
  horaires: 'Mo-Fr 08:30-16:30',
});

/** Numbered places around Évreux (enough for a second page of results). */
export function numberedPlaces(n = 24): PlaceRecord[] {
  const out: PlaceRecord[] = [];
  for (let i = 1; i <= n; i++) {
    const angle = (i / n) * 2 * Math.PI;
    out.push(
      record({
        id: `site-test-permanence-${i}`,
        nom: `Permanence numérique ${String(i).padStart(2, '0')}`,
        commune: 'Évreux',
        code_postal: '27000',
        code_insee: '27229',
        adresse: `${i} rue des Tests`,
        latitude: Math.round((EVREUX.lat + 0.02 * Math.sin(angle)) * 1e5) / 1e5,
        longitude: Math.round((EVREUX.lon + 0.03 * Math.cos(angle)) * 1e5) / 1e5,
        horaires: i % 2 ? 'Mo-Fr 09:00-17:00' : null,
        services: [i % 3 ? 'Maîtrise des outils numériques du quotidien' : 'Aide aux démarches administratives'],
        frais_a_charge: ['Gratuit'],
      }),
    );
  }
  return out;
}

export function samplePlaces(): PlaceRecord[] {
  return [MEDIATHEQUE, FRANCE_SERVICES, EPN_WEEKEND, VERNON, ROUEN, ...numberedPlaces()];
}
