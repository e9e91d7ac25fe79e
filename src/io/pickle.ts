// A restricted unpickler: Python's pickle format read as data, never as code.
//
// A pickle is a program for a stack machine, and the dangerous opcodes are the
// ones that name Python objects (GLOBAL, STACK_GLOBAL) and call them (REDUCE,
// NEWOBJ, INST, OBJ, BUILD): `os.system` reached that way runs a shell command
// in Python's pickle.load and torch.load. Here nothing is ever looked up in
// Python: every global must be in the caller's allow-list (`globals`), which
// maps it to a TypeScript function of plain data; any other global, and every
// opcode that instantiates a class, stops the read with an Error naming the file
// and the global. The result is plain JavaScript data:
//   None -> null, bool, int -> number (bigint beyond 2^53), float -> number,
//   str -> string, bytes -> Uint8Array, list and tuple -> array,
//   dict -> Map (insertion order kept), anything else -> what an allowed global made.
// Opcodes: protocols 0-5 except those that build class instances, sets and
// out-of-band buffers (each refused with its name; an opaque read, for a pickle
// that libtorch interprets, checks the first two for structure only).

/** An allowed global: called by REDUCE with the argument tuple. */
export type PickleFunction = (args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** 'module.name' -> implementation; any other global is refused. */
  globals: ReadonlyMap<string, PickleFunction>;
  /** BINPERSID / PERSID: the persistent id (e.g. torch's storage tuple) -> its object. Absent: refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Names the data in errors (a file path). */
  source: string;
  /**
   * Structure only, for a pickle another reader will interpret (libtorch's, in a TorchScript
   * archive): globals outside `globals`, class instances, sets and persistent ids (without
   * `persistentLoad`) become PickleOpaque values instead of refusals, and BUILD may set their
   * state; the stack, marks, memo and lengths are checked as always. Nothing is called.
   */
  opaque?: boolean;
}

/** What an allowed global is on the stack until REDUCE calls it. */
export class PickleGlobal {
  constructor(
    readonly name: string,
    readonly fn: PickleFunction,
  ) {}
}

/** What an opaque read (UnpickleOptions.opaque) makes of a global, a class instance or a set. */
export class PickleOpaque {
  constructor(readonly name: string) {}
}

const MARK = Symbol('mark');
const REFUSED: Record<number, string> = {
  0x69: 'INST (instantiates a class)',
  0x6f: 'OBJ (instantiates a class)',
  0x81: 'NEWOBJ (instantiates a class)',
  0x92: 'NEWOBJ_EX (instantiates a class)',
  0x82: 'EXT1 (extension registry)',
  0x83: 'EXT2 (extension registry)',
  0x84: 'EXT4 (extension registry)',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x97: 'NEXT_BUFFER (out-of-band data)',
  0x98: 'READONLY_BUFFER (out-of-band data)',
};

/** Unpickles `bytes` from `start`; returns the value and the offset after its STOP. */
export function unpickle(bytes: Uint8Array, o: UnpickleOptions, start = 0): { value: unknown; end: number } {
  return new Machine(bytes, o, start).run();
}

/** The message of a refused global (exported for tests and callers that pre-check). */
export const refusedGlobal = (source: string, name: string): string =>
  `${source}: refused: the pickle names the Python global '${name}'. carso reads only tensors and plain containers ` +
  `(dict, OrderedDict, list, tuple, str, int, float, bool, None) from torch.save files and runs nothing from them; ` +
  `save just the state dict (torch.save(model.state_dict(), path)) or use safetensors`;

class Machine {
  private readonly buf: Buffer;
  private readonly stack: unknown[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, unknown>();
  private pos: number;

  constructor(
    bytes: Uint8Array,
    private readonly o: UnpickleOptions,
    start: number,
  ) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }

  run(): { value: unknown; end: number } {
    for (;;) {
      const at = this.pos;
      const code = this.u8();
      if (code === 0x2e) return { value: this.pop(at), end: this.pos }; // STOP '.'
      const refused = REFUSED[code];
      if (refused !== undefined) {
        if (this.o.opaque === true && this.stepOpaque(code, at)) continue;
        this.fail(at, `unsupported pickle opcode ${refused}`);
      }
      if (!this.step(code, at)) this.fail(at, `unknown pickle opcode 0x${code.toString(16).padStart(2, '0')} (corrupt file?)`);
    }
  }

  /** One opcode; false when unknown. */
  private step(code: number, at: number): boolean {
    const s = this.stack;
    switch (String.fromCharCode(code)) {
      case '\x80': // PROTO
        this.u8();
        return true;
      case '\x95': // FRAME: a length hint only
        this.take(8);
        return true;
      case '(':
        this.marks.push(s.length);
        s.push(MARK);
        return true;
      case '0':
        this.pop(at);
        return true;
      case '1':
        this.popMark(at);
        return true;
      case '2':
        s.push(this.top(at));
        return true;
      case 'N':
        s.push(null);
        return true;
      case '\x88':
        s.push(true);
        return true;
      case '\x89':
        s.push(false);
        return true;
      case 'I':
        s.push(this.textInt(at));
        return true;
      case 'L':
        s.push(this.textInt(at, /L$/));
        return true;
      case 'J':
        s.push(this.take(4).readInt32LE(0));
        return true;
      case 'K':
        s.push(this.u8());
        return true;
      case 'M':
        s.push(this.take(2).readUInt16LE(0));
        return true;
      case '\x8a':
        s.push(signedLE(this.take(this.u8())));
        return true;
      case '\x8b':
        s.push(signedLE(this.take(this.len32(at))));
        return true;
      case 'F':
        s.push(Number(this.line()));
        return true;
      case 'G': // NOTE: BINFLOAT is big-endian, unlike every other binary field
        s.push(this.take(8).readDoubleBE(0));
        return true;
      default:
        return (
          this.stepStrings(code, at) || this.stepContainers(code, at) || this.stepMemo(code, at) || this.stepObjects(code, at)
        );
    }
  }

  private stepStrings(code: number, at: number): boolean {
    const s = this.stack;
    switch (String.fromCharCode(code)) {
      case 'X':
        s.push(this.take(this.len32(at)).toString('utf8'));
        return true;
      case '\x8c':
        s.push(this.take(this.u8()).toString('utf8'));
        return true;
      case '\x8d':
        s.push(this.take(this.len64(at)).toString('utf8'));
        return true;
      case 'T': // BINSTRING, SHORT_BINSTRING: Python 2 str, as latin-1
        s.push(this.take(this.len32(at)).toString('latin1'));
        return true;
      case 'U':
        s.push(this.take(this.u8()).toString('latin1'));
        return true;
      case 'B':
        s.push(Uint8Array.from(this.take(this.len32(at))));
        return true;
      case 'C':
        s.push(Uint8Array.from(this.take(this.u8())));
        return true;
      case '\x8e':
      case '\x96':
        s.push(Uint8Array.from(this.take(this.len64(at))));
        return true;
      default:
        return false;
    }
  }

  private stepContainers(code: number, at: number): boolean {
    const s = this.stack;
    switch (String.fromCharCode(code)) {
      case ']':
      case ')':
        s.push([]);
        return true;
      case 'l':
      case 't':
        s.push(this.popMark(at));
        return true;
      case '\x85':
      case '\x86':
      case '\x87': {
        const n = code - 0x84;
        if (s.length < n || s.slice(-n).includes(MARK)) this.fail(at, 'stack underflow');
        s.push(s.splice(s.length - n, n));
        return true;
      }
      case '}':
        s.push(new Map());
        return true;
      case 'd':
        s.push(this.setItems(new Map(), this.popMark(at), at));
        return true;
      case 's': {
        const v = this.pop(at);
        const k = this.pop(at);
        this.setItems(this.top(at), [k, v], at);
        return true;
      }
      case 'u': {
        const items = this.popMark(at);
        this.setItems(this.top(at), items, at);
        return true;
      }
      case 'a': {
        const v = this.pop(at);
        this.list(this.top(at), at).push(v);
        return true;
      }
      case 'e': {
        const items = this.popMark(at);
        this.list(this.top(at), at).push(...items);
        return true;
      }
      default:
        return false;
    }
  }

  private stepMemo(code: number, at: number): boolean {
    switch (String.fromCharCode(code)) {
      case 'p':
        this.memo.set(this.textIndex(at), this.top(at));
        return true;
      case 'q':
        this.memo.set(this.u8(), this.top(at));
        return true;
      case 'r':
        this.memo.set(this.len32(at), this.top(at));
        return true;
      case '\x94':
        this.memo.set(this.memo.size, this.top(at));
        return true;
      case 'g':
        return this.get(this.textIndex(at), at);
      case 'h':
        return this.get(this.u8(), at);
      case 'j':
        return this.get(this.len32(at), at);
      default:
        return false;
    }
  }

  private stepObjects(code: number, at: number): boolean {
    const s = this.stack;
    switch (String.fromCharCode(code)) {
      case 'c': {
        const module = this.line();
        s.push(this.global(`${module}.${this.line()}`, at));
        return true;
      }
      case '\x93': {
        const name = this.pop(at);
        const module = this.pop(at);
        if (typeof module !== 'string' || typeof name !== 'string') this.fail(at, 'STACK_GLOBAL needs two strings');
        s.push(this.global(`${module}.${name}`, at));
        return true;
      }
      case 'R': {
        const args = this.pop(at);
        const fn = this.pop(at);
        if (!(fn instanceof PickleGlobal) || !Array.isArray(args)) this.fail(at, 'REDUCE needs an allowed global and a tuple');
        s.push(this.call(fn, args, at));
        return true;
      }
      case 'b': {
        const state = this.pop(at);
        this.build(this.top(at), state, at);
        return true;
      }
      case 'Q':
        s.push(this.persistent(this.pop(at), at));
        return true;
      case 'P':
        s.push(this.persistent(this.line(), at));
        return true;
      default:
        return false;
    }
  }

  /** Opaque reads only: class instantiation and sets, their operands checked, their results opaque. */
  private stepOpaque(code: number, at: number): boolean {
    const s = this.stack;
    switch (String.fromCharCode(code)) {
      case 'i': {
        const module = this.line();
        const name = this.line();
        this.popMark(at);
        s.push(new PickleOpaque(`${module}.${name}`));
        return true;
      }
      case 'o':
      case '\x91': {
        this.popMark(at);
        s.push(new PickleOpaque(code === 0x6f ? 'instance' : 'frozenset'));
        return true;
      }
      case '\x81':
      case '\x92': {
        if (code === 0x92) this.pop(at); // NEWOBJ_EX's kwargs
        this.pop(at);
        const cls = this.pop(at);
        s.push(new PickleOpaque(cls instanceof PickleGlobal ? cls.name : 'instance'));
        return true;
      }
      case '\x8f':
        s.push(new PickleOpaque('set'));
        return true;
      case '\x90':
        this.popMark(at);
        this.top(at);
        return true;
      default:
        return false;
    }
  }

  // ---- semantics ---------------------------------------------------------------
  private global(name: string, at: number): PickleGlobal {
    const fn = this.o.globals.get(name);
    if (fn !== undefined) return new PickleGlobal(name, fn);
    if (this.o.opaque !== true) this.fail(at, refusedGlobal(this.o.source, name), false);
    return new PickleGlobal(name, () => new PickleOpaque(name));
  }

  private call(g: PickleGlobal, args: unknown[], at: number): unknown {
    try {
      return g.fn(args);
    } catch (err) {
      return this.fail(at, `${g.name}: ${(err as Error).message}`);
    }
  }

  /**
   * BUILD sets an object's attributes. Allowed only on dicts (OrderedDict pickles its
   * `_metadata` attribute this way; attributes are dropped), never on anything else
   * (but on opaque objects in an opaque read).
   */
  private build(target: unknown, _state: unknown, at: number): void {
    if (this.o.opaque === true && target instanceof PickleOpaque) return;
    if (!(target instanceof Map)) this.fail(at, `BUILD (setting attributes) on ${describe(target)} is not supported`);
  }

  private persistent(pid: unknown, at: number): unknown {
    if (this.o.persistentLoad === undefined && this.o.opaque === true) return new PickleOpaque('persistent id');
    if (this.o.persistentLoad === undefined) this.fail(at, 'persistent ids are not expected here');
    try {
      return this.o.persistentLoad(pid);
    } catch (err) {
      return this.fail(at, `persistent id: ${(err as Error).message}`);
    }
  }

  private setItems(target: unknown, items: unknown[], at: number): Map<unknown, unknown> {
    if (!(target instanceof Map)) return this.fail(at, `SETITEM on ${describe(target)}`);
    if (items.length % 2 !== 0) this.fail(at, 'SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
    return target;
  }

  private list(target: unknown, at: number): unknown[] {
    if (!Array.isArray(target)) return this.fail(at, `APPEND on ${describe(target)}`);
    return target;
  }

  private get(index: number, at: number): true {
    if (!this.memo.has(index)) this.fail(at, `memo index ${index} was never stored`);
    this.stack.push(this.memo.get(index));
    return true;
  }

  // ---- stack and bytes -------------------------------------------------------------
  private pop(at: number): unknown {
    if (this.stack.length === 0 || this.stack[this.stack.length - 1] === MARK) this.fail(at, 'stack underflow');
    return this.stack.pop();
  }

  private top(at: number): unknown {
    const v = this.stack[this.stack.length - 1];
    if (this.stack.length === 0 || v === MARK) this.fail(at, 'stack underflow');
    return v;
  }

  private popMark(at: number): unknown[] {
    const m = this.marks.pop();
    if (m === undefined) return this.fail(at, 'no MARK on the stack');
    return this.stack.splice(m).slice(1);
  }

  private take(n: number): Buffer {
    if (this.pos + n > this.buf.length) this.fail(this.pos, `truncated: ${n} bytes needed, ${this.buf.length - this.pos} left`);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  private u8(): number {
    return this.take(1)[0]!;
  }

  private len32(at: number): number {
    const n = this.take(4).readUInt32LE(0);
    if (n > this.buf.length) this.fail(at, `length ${n} exceeds the data`);
    return n;
  }

  private len64(at: number): number {
    const n = this.take(8).readBigUInt64LE(0);
    if (n > BigInt(this.buf.length)) this.fail(at, `length ${n} exceeds the data`);
    return Number(n);
  }

  private line(): string {
    const end = this.buf.indexOf(0x0a, this.pos);
    if (end < 0) this.fail(this.pos, 'truncated: no end of line');
    const s = this.buf.toString('latin1', this.pos, end);
    this.pos = end + 1;
    return s;
  }

  /** INT (and LONG, with its trailing L): a decimal line; INT's 01 / 00 are protocol 0's booleans. */
  private textInt(at: number, suffix?: RegExp): number | bigint | boolean {
    const t = suffix === undefined ? this.line() : this.line().replace(suffix, '');
    if (suffix === undefined && (t === '01' || t === '00')) return t === '01';
    if (!/^-?\d+$/.test(t)) this.fail(at, `INT '${t}' is not an integer`);
    return intValue(BigInt(t));
  }

  private textIndex(at: number): number {
    const t = this.line();
    if (!/^\d+$/.test(t)) this.fail(at, `memo index '${t}' is not an integer`);
    return Number(t);
  }

  private fail(at: number, what: string, prefix = true): never {
    throw new Error(prefix ? `${this.o.source}: pickle byte ${at}: ${what}` : what);
  }
}

/** A little-endian two's complement integer (LONG1, LONG4). */
function signedLE(b: Buffer): number | bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b.length > 0 && b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return intValue(v);
}

const intValue = (v: bigint): number | bigint =>
  v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof PickleGlobal) return v.name;
  return typeof v === 'object' ? (v.constructor?.name ?? 'an object') : typeof v;
}
