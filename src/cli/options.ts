// Parsers for commander options: each rejects a bad value with a message that
// says what is valid, before any work starts.
import { InvalidArgumentError } from 'commander';

export function number(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`'${v}' is not a number`);
  return n;
}

export function integer(v: string): number {
  const n = number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`'${v}' is not an integer`);
  return n;
}

export function positiveInt(v: string): number {
  const n = integer(v);
  if (n <= 0) throw new InvalidArgumentError(`'${v}' must be a positive integer`);
  return n;
}

export function nonNegative(v: string): number {
  const n = number(v);
  if (n < 0) throw new InvalidArgumentError(`'${v}' must be >= 0`);
  return n;
}

export function intList(v: string): number[] {
  return v
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(integer);
}

/** An eps for images in [0, 1]: a number in (0, 1], or a fraction like 8/255. */
export function epsilon(v: string): number {
  const m = /^\s*([0-9.]+)\s*\/\s*([0-9.]+)\s*$/.exec(v);
  const n = m ? Number(m[1]) / Number(m[2]) : number(v);
  if (!(n > 0 && n <= 1))
    throw new InvalidArgumentError(`eps '${v}' must be in (0, 1] (images are in [0, 1]; e.g. 0.1 or 8/255)`);
  return n;
}

export function choice<T extends string>(valid: readonly T[]): (v: string) => T {
  return (v) => {
    if (!valid.includes(v as T)) throw new InvalidArgumentError(`'${v}' is not one of: ${valid.join(', ')}`);
    return v as T;
  };
}

export function nonNegativeInt(v: string): number {
  const n = integer(v);
  if (n < 0) throw new InvalidArgumentError(`'${v}' must be a non-negative integer`);
  return n;
}

/** --threads: what setNumThreads governs (src/tensor/runtime.ts). */
export const THREADS_HELP = "threads of every compute pool, libtorch's and OpenBLAS's (default 1)";

/** A comma-separated list of names from `valid` (each checked; order kept, repeats dropped). */
export function choiceList<T extends string>(valid: readonly T[]): (v: string) => T[] {
  const one = choice(valid);
  return (v) => [...new Set(v.split(',').map((s) => one(s.trim())))];
}
