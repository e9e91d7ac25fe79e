// The restricted unpickler on hand-checked pickles (bytes from Python's
// pickle.dumps, values as Python reads them), and its refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unpickle, type UnpickleOptions } from '../../src/io/pickle.js';

const none: UnpickleOptions = { globals: new Map(), source: 't.pkl' };
const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

test('protocol 0 (text opcodes): ints, a bool, a long beyond 2^53, a float, None in a list', () => {
  // pickle.dumps([1, True, 123456789012345678901234567890, 1.5, None, -7], protocol=0)
  const p = Buffer.from('(lp0\nI1\naI01\naL123456789012345678901234567890L\naF1.5\naNaI-7\na.', 'latin1');
  const { value, end } = unpickle(p, none);
  assert.deepEqual(value, [1, true, 123456789012345678901234567890n, 1.5, null, -7]);
  assert.equal(end, p.length);
});

test('protocol 2: a dict with int and str keys, a tuple, memo references, BININT, LONG1, an allowed global', () => {
  // pickle.dumps({1: 'a', 'k': (2, None), 'l': [b'xy', -300, 2**31]}, protocol=2); bytes go through _codecs.encode
  const p = bytes(
    '80027d7100284b01580100000061710158010000006b71024b024e86710358010000006c71045d710528635f636f646563730a656e636f64650a710658020000007879710758060000006c6174696e31710886710952710a4ad4feffff8a05000000800065752e',
  );
  const codecs = (args: unknown[]): Uint8Array => Uint8Array.from(Buffer.from(args[0] as string, 'latin1'));
  const { value } = unpickle(p, { ...none, globals: new Map([['_codecs.encode', codecs]]) });
  assert.deepEqual(
    value,
    new Map<unknown, unknown>([
      [1, 'a'],
      ['k', [2, null]],
      ['l', [Uint8Array.from([0x78, 0x79]), -300, 2 ** 31]],
    ]),
  );
  assert.throws(() => unpickle(p, none), /^Error: t\.pkl: refused: the pickle names the Python global '_codecs\.encode'/);
});

test('refusals and damage: class instantiation, BUILD on a list, unknown memo, unknown opcode, missing STOP', () => {
  const cases: [string, RegExp][] = [
    ['80025d81', /t\.pkl: pickle byte 3: unsupported pickle opcode NEWOBJ \(instantiates a class\)/],
    ['80025d7d622e', /pickle byte 4: BUILD \(setting attributes\) on a list is not supported/],
    ['8002680763', /pickle byte 2: memo index 7 was never stored/],
    ['8002ff', /pickle byte 2: unknown pickle opcode 0xff/],
    ['80025d', /pickle byte 3: truncated: 1 bytes needed, 0 left/],
    ['800230', /pickle byte 2: stack underflow/],
  ];
  for (const [hex, message] of cases) assert.throws(() => unpickle(bytes(hex), none), message, hex);
});
