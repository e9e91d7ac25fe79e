// JSON shapes: the message names the field and what was found there; fields
// the shape does not know pass through; rules across fields are applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { array, integer, literal, number, object, optional, refine, string } from '../../src/util/shape.js';

const point = refine(
  object<{ kind: 'p'; xs: number[]; n: number; tag?: string }>({
    kind: literal('p'),
    xs: array(number),
    n: integer,
    tag: optional(string),
  }),
  (p) => (p.xs.length === p.n ? null : `${p.xs.length} values for n = ${p.n}`),
);

test('a valid value comes back, with the fields the shape does not know', () => {
  assert.deepEqual(point({ kind: 'p', xs: [1.5], n: 1, extra: 7 }, ''), { kind: 'p', xs: [1.5], n: 1, extra: 7 });
  assert.equal('tag' in point({ kind: 'p', xs: [], n: 0 }, ''), false);
});

test('the message says where and what', () => {
  assert.throws(() => point([], ''), /^ShapeError: top level: expected an object, got an array$/);
  assert.throws(() => point({ kind: 'q' }, ''), /^ShapeError: kind: expected 'p', got string "q"$/);
  assert.throws(() => point({ kind: 'p', xs: [1, null], n: 2 }, 'a.json'), /a\.json\.xs\[1\]: expected a number, got null/);
  assert.throws(() => point({ kind: 'p', xs: [1], n: 1.5 }, ''), /n: expected an integer, got number 1\.5/);
  assert.throws(() => point({ kind: 'p', xs: [1], n: 1, tag: 3 }, ''), /tag: expected a string, got number 3/);
  assert.throws(() => point({ kind: 'p', xs: [1] }, 'p'), /p\.n: expected an integer, got nothing \(missing\)/);
  assert.throws(() => point({ kind: 'p', xs: [1], n: 2 }, 'p'), /^ShapeError: p: 1 values for n = 2$/);
});
