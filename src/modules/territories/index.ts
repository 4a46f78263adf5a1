/**
 * Territories: the official geography (COG) — régions, départements, EPCI, communes — with commune
 * centres and polygons. The only surface other modules may import.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../../platform/module.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export const territoriesModule: ModuleManifest = {
  name: 'territories',
  migrations: path.join(here, 'migrations'),
};
