/**
 * Places offering digital help (standard « lieux de médiation numérique » v1.0.2).
 * The only surface other modules may import.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../../platform/module.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export const placesModule: ModuleManifest = {
  name: 'places',
  migrations: path.join(here, 'migrations'),
};
