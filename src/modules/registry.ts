/**
 * The modules of the monolith, in dependency order: a module may only depend on those above it.
 * Migrations run in this order; routes register in this order.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../platform/module.ts';
import { territoriesModule } from './territories/index.ts';
import { accountsModule } from './accounts/index.ts';
import { roadmapModule } from './roadmap/index.ts';
import { placesModule } from './places/index.ts';
import { coverageModule } from './coverage/index.ts';
import { siteModule } from './site/index.ts';
import { commonsModule } from './commons/index.ts';
import { mediationModule } from './mediation/index.ts';
import { mandatesModule } from './mandates/index.ts';
import { callsModule } from './calls/index.ts';
import { consultationModule } from './consultation/index.ts';

export const platformMigrations = {
  module: 'platform',
  dir: path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'platform', 'migrations'),
};

export const modules: ModuleManifest[] = [territoriesModule, accountsModule, roadmapModule, placesModule, mediationModule, mandatesModule, consultationModule, coverageModule, siteModule, commonsModule, callsModule];
