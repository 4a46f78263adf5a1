/** SIRET numbers (INSEE's establishment identifiers), checked the same way by every module. */

/**
 * A SIRET: 14 digits whose Luhn checksum is valid. Exception: La Poste's establishments (SIREN
 * 356 000 000) are numbered so that the sum of the 14 digits is a multiple of 5 instead.
 */
export function siretProblem(raw: string): string | null {
  const s = raw.replace(/[\s.]/g, '');
  if (!/^\d{14}$/.test(s)) return 'Le SIRET a 14 chiffres.';
  if (s.startsWith('356000000') && s !== '35600000000048') {
    const total = [...s].reduce((t, d) => t + Number(d), 0);
    return total % 5 === 0 ? null : 'Ce SIRET de La Poste n’est pas valide (la somme de ses chiffres doit être un multiple de 5).';
  }
  return luhn(s) ? null : 'Ce SIRET n’est pas valide (clé de contrôle incorrecte) : vérifiez les chiffres.';
}

export function luhn(digits: string): boolean {
  let total = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    total += d;
  }
  return total % 10 === 0;
}
