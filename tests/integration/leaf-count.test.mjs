// leaf-count.test.mjs — the reporter scripts/run-tests counts with (tests/lib/leaf-count.mjs):
// leaf tests only, once each, also when a helper that wraps test() lives in another file than
// the subtests (as the lab's labScenario does), with skips and todos counted as skipped.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const reporter = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../lib/leaf-count.mjs');

test('leaf-count counts each leaf once, not the parents, across a wrapper in another file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leaf-count-'));
  try {
    fs.writeFileSync(path.join(dir, 'wrap.mjs'),
      "import { test } from 'node:test';\n" +
      'export function wrap(name, fn) { return test(name, async (t) => { await fn(t); }); }\n');
    fs.writeFileSync(path.join(dir, 'x.test.mjs'),
      "import assert from 'node:assert';\nimport { test } from 'node:test';\nimport { wrap } from './wrap.mjs';\n" +
      "wrap('parent', async (t) => {\n" +
      "  await t.test('child ok', () => {});\n" +
      "  await t.test('child bad', () => { assert.equal(1, 2); });\n" +
      "  await t.test('nested', async (u) => { await u.test('grandchild', () => {}); });\n" +
      '});\n' +
      "test('plain', () => {});\n" +
      "test('skipped', { skip: 'no reason to run' }, () => {});\n" +
      "test('todo', { todo: true }, () => {});\n");
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT; // else node takes the child for a file of this run
    const r = spawnSync(process.execPath, ['--test', `--test-reporter=${reporter}`, 'x.test.mjs'], { cwd: dir, env, encoding: 'utf8' });
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.at(-1), '# leaves pass=3 fail=1 skip=2', r.stdout + r.stderr);
    assert.deepEqual(lines.slice(0, -1).map((l) => l.split('\t').filter((_, i) => i !== 1).join('|')), [
      'pass|child ok|',
      'fail|child bad|',
      'pass|grandchild|',
      'pass|plain|',
      'skip|skipped|no reason to run',
      'skip|todo|todo',
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
