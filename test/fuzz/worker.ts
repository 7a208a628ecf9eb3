/**
 * Runs fuzz cases [from, to) of a seed in this process and reports each on the channel of
 * protocol.ts. Started by the supervisor (supervisor.ts), which survives when a case crashes this
 * process; not meant to be run by hand (use `npm run fuzz`).
 *
 * Usage: node --import tsx test/fuzz/worker.ts <seed> <from> <to> <scratch folder>
 */
import fs from 'node:fs';
import path from 'node:path';

import { info } from '../../ts/index.js';
import { judge } from './case.js';
import { makeCase, type CaseContext } from './cases.js';
import { CHANNEL_FD, type Message } from './protocol.js';

function send(m: Message): void {
  fs.writeSync(CHANNEL_FD, `${JSON.stringify(m)}\n`);
}

async function main(): Promise<void> {
  const [seed, from, to] = process.argv.slice(2, 5).map(Number) as [number, number, number];
  const ctx: CaseContext = { fixtures: path.join(__dirname, '..', 'fixtures'), scratch: process.argv[5]!, cuda: info().backend === 'cuda' };
  for (let i = from; i < to; i++) {
    send({ t: 'start', i });
    let c;
    try {
      c = makeCase(seed, i, ctx);
    } catch (err) {
      // A generator that throws is a bug of this suite, reported like a failure so it is not missed.
      send({ t: 'end', i, category: 'generator', outcome: { kind: 'failure', message: `the case generator threw ${(err as Error).stack}` } });
      continue;
    }
    send({ t: 'case', i, category: c.category, description: c.description });
    send({ t: 'end', i, category: c.category, outcome: await judge(c) });
  }
}

// uvu imports every file under test/ whose path matches its pattern: run only when started directly.
if (require.main === module) void main();
