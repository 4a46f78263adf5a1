/** A worker for the pool's tests: echoes, spins the CPU, fails, and reads its slots. */
import { UserError } from '../../http/errors.ts';
import { serveTasks } from '../pool.ts';

serveTasks({
  echo: (input: unknown) => input,
  spin: (ms: number) => {
    const end = Date.now() + ms;
    let n = 0;
    while (Date.now() < end) n++;
    return n > 0;
  },
  refuse: (field: string) => {
    throw new UserError(`valeur refusée : ${field}`, 400, field);
  },
  crash: () => {
    throw new Error('boom');
  },
  sum: (_input: unknown, slots: Record<string, unknown>) => (slots.numbers as number[]).reduce((a, b) => a + b, 0),
});
