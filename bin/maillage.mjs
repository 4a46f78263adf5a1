#!/usr/bin/env node
// Entry point for `npx maillage` and `npm start`: runs the TypeScript CLI through tsx.
process.env.TZ = process.env.TZ || 'Europe/Paris';
import { register } from 'tsx/esm/api';
register();
await import('../src/cli.ts');
