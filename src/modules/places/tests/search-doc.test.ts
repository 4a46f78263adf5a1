import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../../platform/db/index.ts';
import { testDb } from '../../../../test/support/db.ts';
import { docWords, stemWords, tsvectorLiteral, type StemCache, type WordsCache } from '../search-doc.ts';

// The search document is built in JS (search-doc.ts) with the stems PostgreSQL gives: for plain
// words (no hyphenated compounds, no e-mail or URL tokens, which PostgreSQL's parser also splits
// into parts) it must be the tsvector PostgreSQL itself builds, or searches would miss places.
describe('the search document of a place', () => {
  let db: Db;
  before(async () => {
    db = await testDb();
  });
  after(async () => db.close());

  const pgVector = `(setweight(to_tsvector('french', platform.unaccent($1)), 'A') || setweight(to_tsvector('french', platform.unaccent($2)), 'B')
    || setweight(to_tsvector('french', platform.unaccent($3)), 'C') || setweight(to_tsvector('french', platform.unaccent($4)), 'D'))::text`;

  const documents: [string, string, string, string][] = [
    ['Médiathèque François Mitterrand', 'Saint Étienne 42000', 'Aide aux démarches administratives Accompagnement', 'Ateliers numériques pour tous les publics le mardi et le jeudi'],
    ['Espace Public Numérique', 'Œuvres Lyon 69001', 'Maîtrise des outils numériques Fablab', 'Un fablab ouvert aux jeunes et aux seniors avec des ateliers découverte des outils numériques numériques'],
    ['France Services Rennes', 'Rennes 35000', 'Insertion professionnelle via le numérique', 'Accueil France Services accompagnement des démarches en ligne impôts CAF retraite'],
  ];

  for (const parts of documents) {
    test(`same lexemes, weights and positions as to_tsvector: ${parts[0]}`, async () => {
      const stems: StemCache = new Map();
      const words: WordsCache = new Map();
      const doc = docWords(parts, words);
      await stemWords(db, [doc], stems);
      const { rows } = await db.query<{ js: string; pg: string }>(`SELECT $5::tsvector::text AS js, ${pgVector} AS pg`, [...parts, tsvectorLiteral(doc, stems)]);
      assert.equal(rows[0]!.js, rows[0]!.pg);
    });
  }

  test('repeated texts reuse their words; a lexeme keeps at most 256 positions', async () => {
    const stems: StemCache = new Map();
    const words: WordsCache = new Map();
    const a = docWords(['Relais', 'Brest 29200', 'Aide', null], words);
    const b = docWords(['Autre relais', 'Brest 29200', 'Aide', null], words);
    assert.equal(a[1], b[1]);
    const long = docWords(['x', 'y', 'z', Array.from({ length: 300 }, () => 'atelier').join(' ')], words);
    await stemWords(db, [long], stems);
    const { rows } = await db.query<{ n: number }>(
      `SELECT array_length((SELECT positions FROM unnest($1::tsvector) WHERE lexeme = 'ateli'), 1) AS n`,
      [tsvectorLiteral(long, stems)],
    );
    assert.equal(rows[0]!.n, 256);
  });
});
