/**
 * JSON API under /api/v1/consultation (read-only; participation goes through the pages' forms,
 * which carry CSRF tokens) and the open data: proposals with their answers, comments without
 * personal data, vote totals per project (never who voted what), as CSV or JSON.
 */
import { z } from 'zod';
import type { FastifyReply } from 'fastify';
import type { App } from '../../platform/http/server.ts';
import type { AppContext } from '../../platform/module.ts';
import type { Queryable } from '../../platform/db/index.ts';
import { NotFoundError } from '../../platform/http/errors.ts';
import { registerOpenData } from '../../platform/opendata.ts';
import { STATES, phaseStatus, totalsSealed } from './model.ts';
import * as svc from './service.ts';
import * as sv from './surveys.ts';
import { contributionRows } from './debates.ts';

const DEBATE_COLUMNS = ['process', 'debate', 'contribution_id', 'parent_id', 'stance', 'body', 'created_at'];

const tags = ['consultation'];
const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,79}$/);

/** CSV with a header line; cells starting like a formula are prefixed with « ' » (spreadsheet safety). */
export function toCsv(rows: Record<string, unknown>[], columns: string[]): string {
  const cell = (v: unknown) => {
    let s = v === null || v === undefined ? '' : Array.isArray(v) ? v.join('|') : String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\r\n') + '\r\n';
}

export const PROPOSAL_COLUMNS = ['process', 'number', 'title', 'body', 'category', 'commune_code', 'place_uid', 'state', 'state_label', 'answer', 'answered_at', 'supports', 'comments', 'created_at'];
export const COMMENT_COLUMNS = ['process', 'proposal_number', 'comment_id', 'parent_id', 'body', 'created_at'];
export const VOTE_COLUMNS = ['process', 'budget', 'budget_title', 'departement', 'rank', 'project', 'project_title', 'cost_eur', 'commune_code', 'votes', 'funded'];

/** Public proposals of a process (hidden ones left out; no author). */
export async function proposalRows(db: Queryable, p: svc.Process) {
  const out: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  do {
    const page: svc.ProposalPage = await svc.listProposals(db, p.id, { cursor, limit: 200 });
    for (const pr of page.items) {
      out.push({ process: p.slug, number: pr.number, title: pr.title, body: pr.body, category: pr.category, commune_code: pr.communeCode, place_uid: pr.placeUid, state: pr.state, state_label: svc.stateLabel(p, pr), answer: pr.answer, answered_at: pr.answeredAt, supports: pr.supports, comments: pr.comments, created_at: pr.createdAt });
    }
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/** Visible comments on visible proposals, without their authors. */
export async function commentRows(db: Queryable, p: svc.Process) {
  const { rows } = await db.query<{ number: number; id: string; parent_id: string | null; body: string; created_at: Date }>(
    `SELECT pr.number, c.id, c.parent_id, c.body, c.created_at FROM consultation.comment c JOIN consultation.proposal pr ON pr.id = c.proposal_id
      WHERE pr.process_id = $1 AND pr.hidden_at IS NULL AND c.hidden_at IS NULL ORDER BY pr.number, c.created_at, c.id`, [p.id]);
  return rows.map((r) => ({ process: p.slug, proposal_number: r.number, comment_id: r.id, parent_id: r.parent_id, body: r.body, created_at: new Date(r.created_at).toISOString() }));
}

export async function voteRows(db: Queryable, p: svc.Process, only?: svc.Budget) {
  const out: Record<string, unknown>[] = [];
  for (const b of only ? [only] : await svc.listBudgets(db, p.id)) {
    const t = await svc.tally(db, b);
    // Totals are left empty while the vote is open (totalsSealed): never who voted what.
    const sealed = totalsSealed(p.phases, new Date());
    // Sealed, the projects come in title order: the ranking would give the totals away.
    const projects = sealed ? [...t.projects].sort((x, y) => x.title.localeCompare(y.title, 'fr')) : t.projects;
    for (const x of projects) out.push({ process: p.slug, budget: b.slug, budget_title: b.title, departement: b.departement, rank: sealed ? null : x.rank, project: x.id, project_title: x.title, cost_eur: x.costCents / 100, commune_code: x.communeCode, votes: sealed ? null : x.votes, funded: sealed ? null : x.funded });
  }
  return out;
}

const DATASETS = {
  proposals: { rows: proposalRows, columns: PROPOSAL_COLUMNS, label: 'Propositions et réponses officielles' },
  comments: { rows: commentRows, columns: COMMENT_COLUMNS, label: 'Commentaires (sans leurs auteurs)' },
  votes: { rows: (db: Queryable, p: svc.Process) => voteRows(db, p), columns: VOTE_COLUMNS, label: 'Voix par projet des budgets participatifs' },
  debates: { rows: contributionRows, columns: DEBATE_COLUMNS, label: 'Arguments et commentaires des débats (sans leurs auteurs)' },
} as const;

export function registerConsultationOpenData(): void {
  registerOpenData({
    id: 'concertations',
    title: 'Concertations et budgets participatifs',
    description:
      'Pour chaque concertation publiée : les propositions avec leur état et la réponse officielle, les commentaires publiés (sans leurs auteurs ni aucune donnée personnelle), et les voix obtenues par chaque projet des budgets participatifs (des totaux : jamais qui a voté quoi). Les contenus masqués par la modération en sont exclus. Licence Ouverte / Etalab 2.0.',
    async files(db) {
      const list = await svc.listProcesses(db);
      return list.map((p) => ({
        group: p.title,
        files: Object.entries(DATASETS).flatMap(([k, d]) => [
          { label: `${d.label} (CSV)`, href: `/api/v1/consultation/processes/${p.slug}/${k}.csv`, format: 'CSV' },
          { label: `${d.label} (JSON)`, href: `/api/v1/consultation/processes/${p.slug}/${k}.json`, format: 'JSON' },
        ]),
      }));
    },
    api: ['GET /api/v1/consultation/processes', 'GET /api/v1/consultation/processes/{process}', 'GET /api/v1/consultation/processes/{process}/proposals', 'GET /api/v1/consultation/processes/{process}/proposals/{number}/comments', 'GET /api/v1/consultation/processes/{process}/budgets/{budget}/results', 'GET /api/v1/consultation/processes/{process}/surveys/{survey}/results'],
  });
}

const PhaseOut = z.object({ title: z.string(), startsAt: z.string(), endsAt: z.string(), proposalsOpen: z.boolean(), supportsOpen: z.boolean(), commentsOpen: z.boolean(), votesOpen: z.boolean() });
const ProcessOut = z.object({
  slug: z.string(), title: z.string(), description: z.string(), region: z.string(), departement: z.string().nullable(), currentPhase: z.string().nullable().describe('title of the phase running now (server clock)'),
  phases: z.array(PhaseOut), categories: z.array(z.string()), budgets: z.array(z.object({ slug: z.string(), title: z.string(), departement: z.string().nullable(), amountEur: z.number(), rule: z.string(), thresholdPct: z.number(), minProjects: z.number(), maxProjects: z.number().nullable() })),
});
const ProposalOut = z.object({ number: z.number(), title: z.string(), body: z.string(), category: z.string().nullable(), communeCode: z.string().nullable(), placeUid: z.string().nullable(), state: z.enum(STATES), stateLabel: z.string(), answer: z.string().nullable(), answeredAt: z.string().nullable(), supports: z.number(), comments: z.number(), createdAt: z.string() });

export function registerRoutes(app: App, ctx: AppContext) {
  const load = async (s: string) => {
    const p = await svc.getProcess(ctx.db, s);
    if (!p) throw new NotFoundError('Concertation introuvable.');
    return p;
  };
  const processJson = async (p: svc.Process) => ({
    slug: p.slug, title: p.title, description: p.description, region: p.region, departement: p.departement, currentPhase: phaseStatus(p.phases, new Date()).current?.title ?? null,
    phases: p.phases.map(({ id: _id, position: _pos, ...rest }) => rest), categories: p.categories,
    budgets: (await svc.listBudgets(ctx.db, p.id)).map((b) => ({ slug: b.slug, title: b.title, departement: b.departement, amountEur: b.amountCents / 100, rule: b.rule, thresholdPct: b.thresholdPct, minProjects: b.minProjects, maxProjects: b.maxProjects })),
  });

  app.get('/api/v1/consultation/processes', { schema: { tags, summary: 'Published participatory processes with their phases and budgets', response: { 200: z.object({ items: z.array(ProcessOut) }) } } }, async () => ({
    items: await Promise.all((await svc.listProcesses(ctx.db)).map(processJson)),
  }));

  app.get('/api/v1/consultation/processes/:process', { schema: { tags, summary: 'One process', params: z.object({ process: slug }), response: { 200: ProcessOut } } }, async (req) => processJson(await load(req.params.process)));

  app.get(
    '/api/v1/consultation/processes/:process/proposals',
    {
      schema: {
        tags, summary: 'Proposals of a process, newest first (cursor pagination; hidden ones left out; no author)', params: z.object({ process: slug }),
        querystring: z.object({ cursor: z.string().max(200).optional(), limit: z.coerce.number().int().min(1).max(200).default(50), state: z.enum(STATES).optional(), category: z.string().max(100).optional() }).strict(),
        response: { 200: z.object({ total: z.number(), items: z.array(ProposalOut), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const p = await load(req.params.process);
      const r = await svc.listProposals(ctx.db, p.id, { cursor: req.query.cursor, limit: req.query.limit, state: req.query.state, category: req.query.category });
      return { total: r.total, nextCursor: r.nextCursor, items: r.items.map((pr) => ({ number: pr.number, title: pr.title, body: pr.body, category: pr.category, communeCode: pr.communeCode, placeUid: pr.placeUid, state: pr.state, stateLabel: svc.stateLabel(p, pr), answer: pr.answer, answeredAt: pr.answeredAt, supports: pr.supports, comments: pr.comments, createdAt: pr.createdAt })) };
    },
  );

  app.get(
    '/api/v1/consultation/processes/:process/proposals/:number/comments',
    {
      schema: {
        tags, summary: 'Comments of a proposal in order (cursor pagination); a hidden comment keeps its place without its text', params: z.object({ process: slug, number: z.coerce.number().int().min(1).max(1e9) }),
        querystring: z.object({ after: z.string().max(200).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) }).strict(),
        response: { 200: z.object({ items: z.array(z.object({ id: z.string(), parentId: z.string().nullable(), body: z.string().nullable(), hidden: z.boolean(), hiddenReason: z.string().nullable(), createdAt: z.string() })), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const p = await load(req.params.process);
      const pr = await svc.getProposal(ctx.db, p.id, req.params.number);
      if (!pr || pr.hidden) throw new NotFoundError('Proposition introuvable.');
      const r = await svc.listComments(ctx.db, pr.id, { after: req.query.after, limit: req.query.limit, moderator: false });
      return { nextCursor: r.nextCursor, items: r.items.map(({ authorId: _a, ...c }) => c) };
    },
  );

  app.get(
    '/api/v1/consultation/processes/:process/budgets/:budget/results',
    {
      schema: {
        tags,
        summary: 'Votes per project ranked within the budget (totals only; rank, votes and funded are null while the vote is open: `sealed`)',
        params: z.object({ process: slug, budget: slug }),
        response: { 200: z.object({ voters: z.number(), amountEur: z.number(), sealed: z.boolean(), projects: z.array(z.object({ rank: z.number().nullable(), id: z.string(), title: z.string(), costEur: z.number(), communeCode: z.string().nullable(), votes: z.number().nullable(), funded: z.boolean().nullable() })) }) },
      },
    },
    async (req) => {
      const p = await load(req.params.process);
      const b = await svc.getBudget(ctx.db, p.id, req.params.budget);
      if (!b) throw new NotFoundError('Budget introuvable.');
      const t = await svc.tally(ctx.db, b);
      const sealed = totalsSealed(p.phases, new Date());
      const projects = sealed ? [...t.projects].sort((x, y) => x.title.localeCompare(y.title, 'fr')) : t.projects;
      return { voters: t.voters, amountEur: b.amountCents / 100, sealed, projects: projects.map((x) => ({ rank: sealed ? null : x.rank, id: x.id, title: x.title, costEur: x.costCents / 100, communeCode: x.communeCode, votes: sealed ? null : x.votes, funded: sealed ? null : x.funded })) };
    },
  );

  const sendData = (reply: FastifyReply, format: string, name: string, rows: Record<string, unknown>[], columns: string[]) => {
    if (format === 'csv') return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`).send(toCsv(rows, columns));
    return reply.type('application/json; charset=utf-8').send({ licence: 'Licence Ouverte / Etalab 2.0', columns, rows });
  };

  app.get(
    '/api/v1/consultation/processes/:process/:dataset',
    { schema: { tags, summary: 'Open data of a process: proposals, comments or votes, as .csv or .json', params: z.object({ process: slug, dataset: z.enum(['proposals.csv', 'proposals.json', 'comments.csv', 'comments.json', 'votes.csv', 'votes.json', 'debates.csv', 'debates.json']) }) } },
    async (req, reply) => {
      const p = await load(req.params.process);
      const [name, format] = req.params.dataset.split('.') as [keyof typeof DATASETS, string];
      const d = DATASETS[name];
      return sendData(reply, format, `${p.slug}-${name}`, await d.rows(ctx.db, p), [...d.columns]);
    },
  );

  const publishedSurvey = async (process: string, survey: string) => {
    const p = await load(process);
    const s = await sv.getSurvey(ctx.db, p.id, survey);
    if (!s || !s.resultsPublished) throw new NotFoundError('Questionnaire introuvable ou résultats non publiés.');
    return { p, s };
  };
  app.get(
    '/api/v1/consultation/processes/:process/surveys/:survey/results',
    {
      schema: {
        tags, summary: 'Published results of a survey: counts per option of the choice questions (free text and files never published)', params: z.object({ process: slug, survey: slug }),
        response: { 200: z.object({ title: z.string(), responses: z.number(), questions: z.array(z.object({ key: z.string(), type: z.string(), label: z.string(), answered: z.number(), options: z.array(z.string()), rows: z.array(z.string()), counts: z.array(z.number()).nullable(), matrix: z.array(z.array(z.number())).nullable(), meanRanks: z.array(z.number().nullable()).nullable() })) }) },
      },
    },
    async (req) => {
      const { s } = await publishedSurvey(req.params.process, req.params.survey);
      const results = await sv.resultsOf(ctx.db, s);
      return { title: s.title, responses: s.responses, questions: s.questions.map((q, i) => ({ options: q.options, rows: q.rows, ...results[i]!, ...(sv.isChoice(q) ? {} : { counts: null, matrix: null, meanRanks: null }) })) };
    },
  );
  app.get(
    '/api/v1/consultation/processes/:process/surveys/:survey/results.csv',
    { schema: { tags, summary: 'Published results of a survey as CSV (one line per question, row and option)', params: z.object({ process: slug, survey: slug }) } },
    async (req, reply) => {
      const { p, s } = await publishedSurvey(req.params.process, req.params.survey);
      return sendData(reply, 'csv', `${p.slug}-${s.slug}-resultats`, sv.resultRows(p, s, await sv.resultsOf(ctx.db, s)), sv.RESULT_COLUMNS);
    },
  );

  app.get(
    '/api/v1/consultation/processes/:process/budgets/:budget/results.csv',
    { schema: { tags, summary: 'Votes per project of one budget as CSV', params: z.object({ process: slug, budget: slug }) } },
    async (req, reply) => {
      const p = await load(req.params.process);
      const b = await svc.getBudget(ctx.db, p.id, req.params.budget);
      if (!b) throw new NotFoundError('Budget introuvable.');
      return sendData(reply, 'csv', `${p.slug}-${b.slug}-resultats`, await voteRows(ctx.db, p, b), VOTE_COLUMNS);
    },
  );
}
