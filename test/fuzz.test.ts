import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { table } from './fuzz/main.js';
import { runFuzz } from './fuzz/supervisor.js';
import { SEED } from './helpers/random.js';

// The quick mode of `npm run fuzz` (test/fuzz/): 1,000 random cases of the Tensor API, attention()
// and model loading, in a child process so that a crash is reported rather than fatal. The seed is
// this test run's (printed; replay with TEST_SEED=<seed> npm test, or a case alone with
// npm run fuzz -- --seed <seed> --case <index>).
const CASES = 1000;

test(`${CASES} fuzz cases: every call succeeds or throws a documented DiffusionAttentionError`, async () => {
  console.log(`fuzz seed: ${SEED} (replay with TEST_SEED=${SEED})`);
  const report = await runFuzz({ seed: SEED, cases: CASES });
  const findings = report.findings.map((f) => `${f.kind} in case ${f.index} [${f.category}]: ${f.description}\n  ${f.message}\n  replay: npm run fuzz -- --seed ${SEED} --case ${f.index}`);
  assert.is(findings.length, 0, `\n${table(report)}\n\n${findings.join('\n\n')}`);
  assert.is(Object.values(report.categories).reduce((n, c) => n + c.cases, 0), CASES);
});

test.run();
