/**
 * say-lines-child: writes argv[2] numbered lines with sayLine after opening
 * process.stdout (which makes the pipe non-blocking), then exits: the lines
 * outrun a parent that is not reading.
 */
import { sayLine } from './kill-when-ready.js';

const lines = Number(process.argv[2] ?? 1000);
void process.stdout;
const pad = 'x'.repeat(90);
for (let i = 0; i < lines; i++) sayLine(`${i} ${pad}`);
