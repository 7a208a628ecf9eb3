import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

// The compiled package (lib/, built by `npm install` through `prepare`, or `npm run build:ts`) must
// expose the same API to `require` and to `import`, backed by one instance.
const ROOT = path.join(__dirname, '..');
const req = createRequire(path.join(ROOT, 'package.json'));

test('lib/ is built and its CommonJS and ES module entries export the same API', async () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'lib', 'index.js')), 'lib/ is missing: run npm run build:ts');
  const cjs = req('diffusion-attention');
  // Through new Function so tsx does not rewrite the import into a require.
  const esm = await (new Function('s', 'return import(s)') as (s: string) => Promise<Record<string, unknown>>)('diffusion-attention');
  const names = Object.keys(esm).filter((k) => k !== 'default').sort();
  assert.equal(names, ['AttentionCache', 'DEFAULT_MODEL', 'DiffusionAttentionError', 'Tensor', 'attention', 'describeMachine', 'info', 'loadPipeline', 'machineSummary']);
  for (const n of names) assert.is(esm[n], cjs[n], `${n} is the same object for import and require`);
  assert.ok(fs.existsSync(path.join(ROOT, 'lib', 'index.d.ts')) && fs.existsSync(path.join(ROOT, 'lib', 'index.d.mts')));
});

test('the CLI entry of the build is executable (npx runs it directly in a clone)', () => {
  const cli = path.join(ROOT, 'lib', 'cli', 'index.js');
  assert.ok(fs.readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node'));
  assert.ok((fs.statSync(cli).mode & 0o111) !== 0, 'lib/cli/index.js is not executable: run npm run build:ts');
});

test('package.json ships types, both entries, and no install script', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.is(pkg.gypfile, false);
  for (const s of ['preinstall', 'install', 'postinstall']) assert.is(pkg.scripts[s], undefined, `no ${s} script`);
  assert.is(pkg.exports['.'].import.types, './lib/index.d.mts');
  assert.is(pkg.exports['.'].require.types, './lib/index.d.ts');
});

test.run();
