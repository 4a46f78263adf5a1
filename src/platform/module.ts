/**
 * What a module hands to the composition root (src/app.ts): its schema's migrations, its routes and
 * pages, its CLI commands and its demo data. Modules are listed, in dependency order, in
 * src/modules/registry.ts.
 */
import type { Config } from './config.ts';
import type { Db } from './db/index.ts';
import type { Logger } from './log.ts';
import type { Progress } from './progress.ts';
import type { App } from './http/server.ts';
import type { AuditVocabulary } from './audit/wording.ts';

export interface AppContext {
  config: Config;
  db: Db;
  log: Logger;
}

export interface CliContext extends AppContext {
  /** Progress display: a bar on a terminal, one summary line otherwise. */
  progress: (label: string, total?: number) => Progress;
  out: (line: string) => void;
}

export interface CliCommand {
  summary: string;
  usage: string;
  /** Longer help, printed by `maillage help <command>` (and `<command> --help`). */
  help?: string;
  /** false when the command needs no database (e.g. validating a file). */
  db?: false;
  run(args: string[], ctx: CliContext): Promise<number | void>;
}

export interface ModuleManifest {
  /** Also the name of the PostgreSQL schema the module owns. */
  name: string;
  /** Absolute path of the module's migrations folder. */
  migrations: string;
  /** Registers the module's API routes and pages. */
  register?(app: App, ctx: AppContext): Promise<void> | void;
  /** CLI commands, by name (`maillage <name> …`). */
  commands?: Record<string, CliCommand>;
  /** Loads reference data the module cannot work without (idempotent; also in test fixtures). */
  seedReference?(ctx: AppContext & { progress: CliContext['progress'] }): Promise<void>;
  /** Loads the module's demo data into an empty database (idempotent). */
  seedDemo?(ctx: AppContext & { progress: CliContext['progress'] }): Promise<void>;
  /**
   * The module's demo data depends on no other module's: its seedDemo runs alongside the others'
   * (its slow parts, e.g. child processes and worker threads, then overlap with their SQL).
   */
  demoAlongside?: boolean;
  /** Runs once every module's seedDemo has run (e.g. figures computed from other modules' demo data). */
  afterDemo?(ctx: AppContext & { progress: CliContext['progress'] }): Promise<void>;
  /** The audit actions the module records, in French words, and how to name and link its objects
   *  (the back-office journal; see src/platform/audit/wording.ts). Every recorded action needs one. */
  audit?: AuditVocabulary;
}
