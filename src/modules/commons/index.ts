/**
 * The software commons: a catalogue of the territory's open-source software and a code search
 * engine over their repositories (trigram index, regular expressions, symbols, block search).
 * The only surface other modules may import.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModuleManifest } from '../../platform/module.ts';
import { createJobs } from '../../platform/jobs/index.ts';
import { registerRoutes } from './routes.ts';
import { registerPages } from './pages/index.ts';
import { commonsCommand } from './cli.ts';
import { seedCommonsDemo } from './demo.ts';
import { indexRepository, poolSnapshot } from './service.ts';
import { searchPool } from './engine/pool.ts';
import { registerRoadmapContributions } from './roadmap.ts';

// Live indicators (and link display) offered to the roadmap module.
registerRoadmapContributions();

const here = path.dirname(fileURLToPath(import.meta.url));

export const commonsModule: ModuleManifest = {
  name: 'commons',
  migrations: path.join(here, 'migrations'),
  async register(app, ctx) {
    const jobs = createJobs({ db: ctx.db, log: ctx.log });
    await jobs.register<{ repository: string }>(
      'commons.index',
      async (data, job) => indexRepository(ctx, data.repository, { onProgress: (p) => job.progress(p) }),
      { concurrency: 1, expireInSeconds: 6 * 3600 },
    );
    // Workers run in the serving process: they start when the server listens (not under app.inject).
    app.addHook('onListen', async () => {
      await jobs.start();
      // The search workers start now and load the index's tables, in their own threads.
      searchPool().warm((await poolSnapshot(ctx)).ref);
    });
    app.addHook('onClose', async () => {
      await jobs.stop();
    });
    registerRoutes(app, ctx, jobs);
    registerPages(app, ctx);
  },
  commands: { commons: commonsCommand },
  // Copies and indexes a few packages (git and worker threads): overlaps with the other demos.
  demoAlongside: true,
  async seedDemo(ctx) {
    await seedCommonsDemo(ctx, (line) => ctx.log.info(line));
  },
};

export { addRepository, indexRepository, search, blockSearch, duplicates, getSoftware, listSoftware } from './service.ts';
export { contentHash, directoryHash, revisionHash, formatSwhid, parseSwhid } from './swhid.ts';
export type { Software } from './model.ts';
