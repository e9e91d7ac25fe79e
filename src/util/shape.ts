// Runtime checks of parsed JSON against the interface it should satisfy. A
// shape is built from the combinators below and returns the value typed;
// `object<T>` demands a check for every field of T, so a field added to an
// interface without its check is a compile error, not an unchecked read.
//
//   const point = object<{ x: number; tag?: string }>({ x: number, tag: optional(string) });
//   point(JSON.parse(text), 'point.json'); // throws 'point.json: x: expected a number, got a string'

/** Checks v (found at `path`) and returns it typed; throws ShapeError otherwise. */
export type Shape<T> = (v: unknown, path: string) => T;

export class ShapeError extends Error {
  override name = 'ShapeError';
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

export function fail(path: string, want: string, v: unknown): never {
  throw new ShapeError(`${path === '' ? 'top level' : path}: expected ${want}, got ${describe(v)}`);
}

const at = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// NOTE: JSON.stringify writes NaN and Infinity as null, so a finite number is all a valid file can hold.
export const number: Shape<number> = (v, p) => (typeof v === 'number' && Number.isFinite(v) ? v : fail(p, 'a number', v));
export const integer: Shape<number> = (v, p) => (Number.isInteger(v) ? (v as number) : fail(p, 'an integer', v));
export const string: Shape<string> = (v, p) => (typeof v === 'string' ? v : fail(p, 'a string', v));
export const boolean: Shape<boolean> = (v, p) => (typeof v === 'boolean' ? v : fail(p, 'true or false', v));
export const scalar: Shape<number | string | boolean> = (v, p) =>
  typeof v === 'string' || typeof v === 'boolean' ? v : number(v, p);

export function literal<T extends string>(...values: T[]): Shape<T> {
  return (v, p) => (values.includes(v as T) ? (v as T) : fail(p, values.map((s) => `'${s}'`).join(' or '), v));
}

export function optional<T>(shape: Shape<T>): Shape<T | undefined> {
  return (v, p) => (v === undefined ? undefined : shape(v, p));
}

export function nullable<T>(shape: Shape<T>): Shape<T | null> {
  return (v, p) => (v === null ? null : shape(v, p));
}

export function array<T>(item: Shape<T>): Shape<T[]> {
  return (v, p) => (Array.isArray(v) ? v.map((x, i) => item(x, at(p, i))) : fail(p, 'an array', v));
}

export function record<T>(value: Shape<T>): Shape<Record<string, T>> {
  return (v, p) =>
    isRecord(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, value(x, at(p, k))])) : fail(p, 'an object', v);
}

/** The fields of T checked; fields T does not know are kept as they are (a newer writer may add some). */
export function object<T>(fields: { [K in keyof T]-?: Shape<T[K]> }): Shape<T> {
  return (v, p) => {
    if (!isRecord(v)) return fail(p, 'an object', v);
    const out: Record<string, unknown> = { ...v };
    for (const [k, shape] of Object.entries(fields) as [string, Shape<unknown>][]) {
      const x = shape(v[k], at(p, k));
      if (x !== undefined) out[k] = x;
    }
    return out as T;
  };
}

/** A shape plus a rule across its fields; `rule` returns what is wrong, or null. */
export function refine<T>(shape: Shape<T>, rule: (v: T) => string | null): Shape<T> {
  return (v, p) => {
    const x = shape(v, p);
    const wrong = rule(x);
    if (wrong !== null) throw new ShapeError(`${p === '' ? '' : `${p}: `}${wrong}`);
    return x;
  };
}
