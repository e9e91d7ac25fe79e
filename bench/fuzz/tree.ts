// A fuzz input: files by relative path (folders implied), each either bytes or
// a symbolic link (a data set folder may hold links to anything).
import { lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Pcg32 } from '../../src/data/random.js';
import { pick, type Bytes } from './mutate.js';

export type Entry = Bytes | { link: string } | { dir: true };
export type FileTree = Map<string, Entry>;

/** Every regular file under `dir`, by path relative to it. */
export function readTree(dir: string, prefix = ''): FileTree {
  const out: FileTree = new Map();
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    if (lstatSync(join(dir, rel)).isDirectory()) for (const [k, v] of readTree(dir, rel)) out.set(k, v);
    else out.set(rel, new Uint8Array(readFileSync(join(dir, rel))));
  }
  return out;
}

/**
 * Writes `tree` under `dir`. With `previous` (what the last call wrote there), only
 * the entries that differ are rewritten (an unchanged seed file is the same object),
 * so an input that mutates one file of a folder costs one write; without, `dir` is
 * removed and written afresh. NOTE: a folder emptied since `previous` stays, empty.
 */
export function writeTree(dir: string, tree: FileTree, previous?: FileTree): void {
  if (previous === undefined) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const rel of previous?.keys() ?? [])
    if (tree.get(rel) !== previous!.get(rel)) rmSync(join(dir, rel), { recursive: true, force: true });
  for (const [rel, e] of tree) {
    if (previous !== undefined && previous.get(rel) === e) continue;
    const path = join(dir, rel);
    rmSync(path, { recursive: true, force: true }); // a folder or link where this entry goes
    mkdirSync(dirname(path), { recursive: true });
    if (e instanceof Uint8Array) writeFileSync(path, e);
    else if ('link' in e) symlinkSync(e.link, path);
    else mkdirSync(path, { recursive: true });
  }
}

/** Files of `tree` whose path matches `re`. */
export function filesMatching(tree: FileTree, re: RegExp): string[] {
  return [...tree.keys()].filter((k) => re.test(k) && tree.get(k) instanceof Uint8Array);
}

/**
 * A structural change of a data set folder: a file removed, replaced by a link to
 * a device or a folder, a folder where a file should be, or a whole folder gone.
 */
export function mutateStructure(rng: Pcg32, tree: FileTree): FileTree {
  const out = new Map(tree);
  if (out.size === 0) return out;
  const victim = pick(rng, [...out.keys()]);
  switch (rng.int(5)) {
    case 0:
      out.delete(victim);
      break;
    case 1:
      out.set(victim, { link: pick(rng, ['/dev/zero', '/dev/urandom', '/dev/null', '/proc/self/mem', '/']) });
      break;
    case 2:
      out.set(victim, { dir: true });
      break;
    case 3:
      out.set(victim, { link: victim.split('/').pop() as string }); // a link to itself: ELOOP
      break;
    default: {
      const folder = dirname(victim);
      for (const k of [...out.keys()]) if (k.startsWith(`${folder}/`)) out.delete(k);
    }
  }
  return out;
}

/** A one-file input. */
export const single = (bytes: Bytes, name: string): FileTree => new Map([[name, bytes]]);
/** The bytes of a one-file input. */
export const only = (tree: FileTree): Bytes => [...tree.values()][0] as Bytes;
