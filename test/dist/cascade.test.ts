// The AutoAttack cascade spread over 2 local ranks (Gloo on 127.0.0.1) gives
// the single-process result point for point: standard AutoAttack on a
// classifier, AutoAttack rand on the shipped CARSO, a whole CARSO evaluation
// (both protocols), and one whose paper protocol saturates (the NaN early stop's
// per-point records travel with each batch outcome).
// A killed or silent rank makes the other fail with a clear error within its
// timeout, leaves no result behind, and a rerun (on 2 ranks, or on 1) resumes
// to the uninterrupted result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explain, runNode, runRanks, type RankRun } from './ranks.js';

const WORKER = 'test/dist/workers/cascade.ts';
const dir = mkdtempSync(join(tmpdir(), 'carso-cascade-'));
const read = (file: string): Record<string, unknown> => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const ok = (runs: RankRun[]): void =>
  assert.ok(
    runs.every((r) => r.code === 0),
    explain(runs),
  );
const without = (r: Record<string, unknown>, ...keys: string[]): Record<string, unknown> =>
  Object.fromEntries(Object.entries(r).filter(([k]) => !keys.includes(k)));

/** One process and 2 ranks of `what`, each in its own folder; returns both results. */
async function both(what: string, env: Record<string, string> = {}): Promise<[Record<string, unknown>, Record<string, unknown>]> {
  const [one, two] = [join(dir, `${what}-1`), join(dir, `${what}-2`)];
  const [single, ranks] = await Promise.all([
    runNode([WORKER, what, one, `${one}.json`], env),
    runRanks(2, () => [WORKER, what, two, `${two}.json`], { env }),
  ]);
  ok([single]);
  ok(ranks);
  return [read(`${one}.json`), read(`${two}.json`)];
}

test('standard AutoAttack on a classifier: 2 ranks = 1 process (flags, labels, examples, per-attack records)', async () => {
  const [one, two] = await both('aa-standard');
  // (robust flags, adversarial labels, every example, per-attack counts and queries; timings excluded)
  assert.deepEqual(two, one);
  const flags = one['robustFlags'] as boolean[];
  assert.ok(flags.some((f) => f) && flags.some((f) => !f), 'the attacks broke some points and not others');
});

test('AutoAttack rand on the shipped CARSO: 2 ranks = 1 process', async () => {
  const [one, two] = await both('aa-rand');
  assert.deepEqual(two, one);
  assert.deepEqual(one['robustFlags'], [false, true, true, false, true, true]); // APGD-DLR broke 2 of 6 at eps 0.2
});

test('a whole CARSO evaluation (every stage, its cascades spread over the ranks): 2 ranks = 1 process', async () => {
  const [one, two] = await both('eval');
  assert.deepEqual(two, one);
});

test('CARSO whose reference aggregation saturates: 2 ranks = 1 process, the stopped points and distances moved included', async () => {
  const [one, two] = await both('eval-saturated');
  assert.deepEqual(two, one);
  // the outcomes exchanged carried the NaN early stop: the paper row's attacked points were all stopped
  const paper = (one['verdict'] as { id: string; evidence: { attacked: number; stopped: number } }[])[1]!;
  assert.equal(paper.id, 'carso-paper');
  assert.ok(paper.evidence.attacked > 0 && paper.evidence.stopped === paper.evidence.attacked, JSON.stringify(paper.evidence));
});

test('a killed rank: the other fails within its timeout, no result; reruns on 2 ranks or on 1 resume to the same result', async () => {
  const uninterrupted = read(join(dir, 'aa-standard-1.json'));
  const out = join(dir, 'killed');
  // NOTE: a long timeout (a loaded machine makes a rank wait long for its peer's batch); the error must come far sooner
  const timeout = 600;
  const env = { CARSO_TEST_DIE_AT: '2', CARSO_TEST_TIMEOUT: String(timeout) };
  const [r0, r1] = await runRanks(2, () => [WORKER, 'aa-standard', out, `${out}.json`], { env });
  assert.equal(r1!.signal, 'SIGKILL', explain([r0!, r1!]));
  assert.notEqual(r0!.code, 0, explain([r0!]));
  assert.match(r0!.stderr, /dist allGather: .*gloo rank 0 of 2.*(Connection closed|reset by peer).*a peer exited/s);
  // NOTE: a killed peer's sockets close, so the error comes at rank 0's next exchange (after its batch), not at the timeout
  assert.ok(r0!.ms - r1!.ms < 60_000, `rank 0 ended ${r0!.ms - r1!.ms} ms after rank 1`);
  assert.ok(!existsSync(`${out}.json`), 'no result after a failed run');
  assert.ok(existsSync(join(out, 'state.safetensors')), 'the state rank 0 saved');

  cpSync(out, `${out}-alone`, { recursive: true });
  const [again, alone] = await Promise.all([
    runRanks(2, () => [WORKER, 'aa-standard', out, `${out}.json`]),
    runNode([WORKER, 'aa-standard', `${out}-alone`, `${out}-alone.json`], {}),
  ]);
  ok(again);
  ok([alone]);
  for (const file of [`${out}.json`, `${out}-alone.json`]) {
    const r = read(file);
    assert.equal(r['wasResumed'], true, file);
    assert.deepEqual(without(r, 'wasResumed'), without(uninterrupted, 'wasResumed'), file);
  }
});

test('a rank that stops answering: the other fails with a timeout error, no result', async () => {
  const out = join(dir, 'stalled');
  const env = { CARSO_TEST_STALL_AT: '2', CARSO_TEST_TIMEOUT: '10' };
  const [r0] = await runRanks(2, () => [WORKER, 'aa-standard', out, `${out}.json`], { env });
  assert.notEqual(r0!.code, 0, explain([r0!]));
  assert.match(r0!.stderr, /dist (allGather|broadcast): .*(timed out|Timed out).*within 10 s/s);
  assert.ok(!existsSync(`${out}.json`));
});
