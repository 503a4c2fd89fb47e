// leaf-count.mjs — a node:test reporter that counts leaf tests only: a test with subtests is
// not counted beside them (node's own "# pass" counts both). scripts/run-tests uses it:
//
//   node --test --test-reporter=./tests/lib/leaf-count.mjs --test-reporter-destination=FILE ...
//
// It writes one line per leaf test, "pass|fail|skip<TAB>file<TAB>name<TAB>reason" (a todo,
// passed or not, counts as skipped, a test cancelled by its parent or by a timeout as failed), and at the end
//   # leaves pass=N fail=M skip=K
// A test file that fails without running a test (it crashed while loading) is one failed leaf.
export default async function* leafCount(source) {
  const counts = { pass: 0, fail: 0, skip: 0 };
  // Per nesting level: whether the test now open at that level has reported a child. node
  // reports a test's subtests before it and one test file after another, so the levels of
  // one file never mix with another's. Not keyed by "file": that is where test() was called,
  // and a helper that wraps test() (the lab's labScenario) puts a parent in another file than
  // its subtests.
  const levels = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { nesting, name, file = '', skip, todo } = event.data;
    const isParent = Boolean(levels[nesting]);
    levels[nesting] = false;
    if (nesting > 0) levels[nesting - 1] = true;
    if (isParent) continue;
    let result = event.type === 'test:pass' ? 'pass' : 'fail';
    let reason = '';
    if (todo !== undefined || (result === 'pass' && skip !== undefined)) {
      result = 'skip';
      const why = todo ?? skip;
      reason = typeof why === 'string' ? why : todo !== undefined ? 'todo' : '';
    }
    counts[result]++;
    yield `${result}\t${file}\t${oneLine(name)}\t${oneLine(reason)}\n`;
  }
  yield `# leaves pass=${counts.pass} fail=${counts.fail} skip=${counts.skip}\n`;
}

function oneLine(text) {
  return String(text ?? '').replace(/\s+/g, ' ');
}
