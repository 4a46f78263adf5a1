/** The hostile values and parameter names the fuzz tests send (test/security/fuzz*.test.ts). */

/** Odd values, as they appear in a URL (already escaped where needed). */
export const ODD: string[] = [
  'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype',
  '%00', 'a%00b', '%ff%fe', '%C0%AF', '%E2%80%AE', '%', '%zz',
  '1e308', '-1e308', '99999999999999999999999999', 'NaN', 'Infinity', '-0', '0x1F', '1.5.3',
  'x'.repeat(20_000), encodeURIComponent('é'.repeat(3_000)),
  '((((((((((((((((((((a', encodeURIComponent("' OR 1=1 --"), '..%2F..%2Fetc%2Fpasswd', encodeURIComponent('<script>alert(1)</script>'),
  encodeURIComponent('45.7,4.8'), encodeURIComponent('-91,181'), encodeURIComponent('1,2,3,4'),
];
/** Parameter names the pages read without declaring them in a schema. */
export const PAGE_PARAMS = [
  'q', 'retour', 'page', 'ok', 'commune', 'service', 'services', 'km', 'link', 'level', 'code', 'territoire', 'territory', 'curseur', 'cursor', 'depuis', 'avant',
  'anciens', 'verifier', 'error', 'signalement', 'lat', 'lon', 'near', 'radius', 'bbox', 'sort', 'format', 'by', 'path', 'region', 'departement', 'fields',
  'limit', 'open_now', 'open_at', 'open_on_weekend', 'online_booking', 'typologie', 'publics_specifiquement_adresses', 'frais_a_charge', 'modalites_acces',
  'modalites_accompagnement', 'prise_en_charge_specifique', 'dispositif_programmes_nationaux', 'formations_labels', 'id', 'state', 'code_verifier', 'nom',
];


/**
 * A 5xx that is the designed answer and not a server error of ours: the person's identity link
 * (`/mandats/…/identite`) goes to the identity provider, which in development and tests is mounted
 * on the LISTENING server; an app driven by inject() is not listening, so the provider cannot be
 * reached and the page says so with a 502.
 */
export function isProviderUnreachable(res: { statusCode: number; body: string }): boolean {
  return res.statusCode === 502 && res.body.includes('Vérification d’identité impossible');
}
