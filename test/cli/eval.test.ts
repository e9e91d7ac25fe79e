// `carso eval`'s flags: --protocols (a checked list, both by default), the old
// --protocol names mapped with a note (never both), --skip and --stop-non-finite
// checked and documented in --help, all before any work starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { protocolsOf } from '../../src/cli/eval.js';
import { choiceList } from '../../src/cli/options.js';

const carso = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'eval', ...args], { encoding: 'utf8' });

test('protocolsOf: both by default, --protocols as given, the old names mapped, never both flags', () => {
  assert.deepEqual(protocolsOf({}), ['paper', 'honest']);
  assert.deepEqual(protocolsOf({ protocols: ['honest'] }), ['honest']);
  const notes: string[] = [];
  const error = console.error;
  console.error = (m: string) => notes.push(m);
  try {
    assert.deepEqual(protocolsOf({ protocol: 'strict' }), ['honest']);
    assert.deepEqual(protocolsOf({ protocol: 'reference' }), ['paper']);
  } finally {
    console.error = error;
  }
  assert.match(notes[1]!, /--protocol reference is now --protocols paper \(which also uses the reference aggregation/);
  assert.throws(() => protocolsOf({ protocol: 'strict', protocols: ['paper'] }), /old name of --protocols: give one of them/);
});

test('choiceList: each name checked, order kept, repeats dropped', () => {
  const p = choiceList(['paper', 'honest'] as const);
  assert.deepEqual(p('honest,paper,honest'), ['honest', 'paper']);
  assert.throws(() => p('paper,strict'), /'strict' is not one of: paper, honest/);
});

test('--help documents the protocols and the NaN early stop; bad values fail before any work', () => {
  const help = carso('--help');
  assert.equal(help.status, 0, help.stderr);
  for (const flag of ['--protocols <list>', '--protocol <p>', '--stop-non-finite <k>', '--final-evals <R>', '--skip <stages>'])
    assert.ok(help.stdout.includes(flag), flag);
  assert.match(help.stdout.replace(/\s+/g, ' '), /'paper': as the CARSO paper evaluates it/);
  const bad = carso('--protocols', 'paper,strict', '--out', '/nonexistent/x');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /'strict' is not one of: paper, honest/);
  const skip = carso('--skip', 'carso-nope', '--out', '/nonexistent/x');
  assert.match(skip.stderr, /'carso-nope' is not one of: classifier-clean, classifier-aa, paper-carso-clean/);
});
