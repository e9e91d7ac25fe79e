// Deterministic memory management: `tidy(fn)` frees every tensor created
// inside `fn` except what `fn` returns (and what was `keep`-ed). Tensors made
// outside any scope live until `dispose()` or until V8 collects the handle
// (the native finalizer frees it then, and native bytes are reported to V8 so
// that GC pressure reflects them).
import { native, type Handle } from './native.js';

/** Anything that owns one native tensor. */
export interface Disposable {
  readonly handle: Handle;
  dispose(): void;
}

type Scope = Set<Disposable>;
const scopes: Scope[] = [];

/** Called by the Tensor constructor: the innermost open scope owns the new tensor. */
export function track(t: Disposable): void {
  const top = scopes[scopes.length - 1];
  if (top !== undefined) top.add(t);
}

const kept = new WeakSet<Disposable>();

/** Removes `t` from every open scope: it will outlive them (free it yourself). */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  kept.add(t);
  return t;
}

/** Whether `keep(t)` was called: code that frees intermediates early must leave such tensors alone. */
export function isKept(t: Disposable): boolean {
  return kept.has(t);
}

/** Tensors reachable from a tidy result (a tensor, or arrays/plain objects of them). */
function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if ('handle' in value && 'dispose' in value) {
    out.add(value as Disposable);
    return;
  }
  const items = Array.isArray(value) ? value : value.constructor === Object ? Object.values(value) : [];
  for (const v of items) collect(v, out, depth + 1);
}

/**
 * Runs `fn` and frees every tensor it created, except those it returns, which
 * move to the enclosing scope.
 *
 *     const loss = tidy(() => model.forward(x).crossEntropy(y)); // intermediates freed
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = new Set();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    // NOTE: free the scope's tensors on failure too, so a caught error leaks nothing.
    scopes.pop();
    for (const t of scope) t.dispose();
    throw err;
  }
  scopes.pop();
  const survivors = new Set<Disposable>();
  collect(result, survivors);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (survivors.has(t)) parent?.add(t);
    else t.dispose();
  }
  if (result instanceof Promise) throw new Error('tidy: fn must be synchronous (use tidy inside the async steps)');
  return result;
}

/** Frees the tensors given (arrays and objects of tensors too). */
export function dispose(value: unknown): void {
  const all = new Set<Disposable>();
  collect(value, all);
  for (const t of all) t.dispose();
}

/** Native bookkeeping, for leak tests and diagnostics. */
export function memoryStats(): { liveTensors: number; externalBytes: number } {
  const { liveTensors, externalBytes } = native.stats();
  return { liveTensors, externalBytes };
}
