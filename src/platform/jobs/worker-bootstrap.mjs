// Starts a compute worker (see pool.ts): loads TypeScript through tsx, then the worker's module.
import { workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
await import(pathToFileURL(workerData.module).href);
