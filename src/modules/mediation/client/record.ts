/** The browser scripts: the recording form's and the place picker's (plain JavaScript, served as is: no build step). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const RECORD_SCRIPT = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'record.js'), 'utf8');
export const PLACE_PICKER_SCRIPT = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'place-picker.js'), 'utf8');
