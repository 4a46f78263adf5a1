/**
 * The coverage computations' worker thread (see compute.ts and src/platform/jobs/pool.ts): every
 * commune's measures and the places snapshot of one stored version are held in slots, sent once.
 */
import { serveTasks } from '../../platform/jobs/pool.ts';
import { computePlan, computeWhatIf, type PlanInput, type WhatIfInput } from './compute.ts';
import type { CommuneMeasure, CoveragePlace } from './model.ts';

serveTasks({
  plan: (input: PlanInput, slots) => computePlan(slots.measures as CommuneMeasure[], input),
  whatIf: (input: WhatIfInput, slots) => computeWhatIf(slots.measures as CommuneMeasure[], slots.places as CoveragePlace[], input),
});
