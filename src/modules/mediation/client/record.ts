/** The recording form's browser script (plain JavaScript, served as is: no build step). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const RECORD_SCRIPT = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'record.js'), 'utf8');
