// The AutoAttack cascade (eval/autoattack.ts) spread over a process group:
// the messages its ranks exchange, as safetensors bytes (the state file's
// format for the start, a small record per batch outcome).
//
//     runAutoAttack(model, x, y, { ...o, shards: shardCascade(group) });  // on every rank
import { createHash } from 'node:crypto';
import { decodeSafetensors, encodeSafetensors } from '../io/index.js';
import type { Tensor } from '../tensor/index.js';
import type { BatchOutcome, CascadeShards, CascadeStart } from '../eval/autoattack.js';
import { decodeState, encodeState } from '../eval/state.js';
import type { ProcessGroup } from './group.js';

const join = (parts: readonly Uint8Array[]): Uint8Array => Buffer.concat(parts);

/** One batch outcome as bytes (empty: no batch). */
export function encodeOutcome(o: BatchOutcome | null): Uint8Array {
  if (o === null) return new Uint8Array(0);
  // NOTE: JSON writes NaN/Inf as null, which means "not attacked" in moved: those travel as strings, so every rank applies the same numbers
  const moved = o.moved.map((m) => (m === null || Number.isFinite(m) ? m : String(m)));
  const fields = { pred: o.pred, valid: o.valid, nanGrad: o.nanGrad, moved, stopped: o.stopped, queries: o.queries };
  return join(encodeSafetensors(o.broken === null ? {} : { broken: o.broken }, { outcome: JSON.stringify(fields) }));
}

export function decodeOutcome(bytes: Uint8Array, source: string): BatchOutcome | null {
  if (bytes.length === 0) return null;
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const o = JSON.parse(metadata['outcome'] ?? 'null') as
    (Omit<BatchOutcome, 'broken' | 'moved'> & { moved: (number | string | null)[] }) | null;
  if (o === null) throw new Error(`${source}: not a batch outcome`);
  const moved = o.moved.map((m) => (typeof m === 'string' ? Number(m) : m));
  return { ...o, moved, broken: tensors.get('broken') ?? null };
}

/** CascadeShards over `group`: see autoattack.ts for the protocol. */
export function shardCascade(group: ProcessGroup): CascadeShards {
  return {
    rank: group.rank,
    size: group.size,
    agree(fingerprint: string): void {
      const mine = createHash('sha256').update(fingerprint).digest('hex');
      const all = group.allGatherBytes(Buffer.from(mine)).map((b) => Buffer.from(b).toString());
      const other = all.findIndex((h) => h !== mine);
      if (other >= 0)
        throw new Error(
          `rank ${group.rank} and rank ${other} are not running the same attack cascade (settings or data differ, ` +
            'or the ranks see different --out folders: they must share one); stopping before any work',
        );
    },
    start(begin: () => CascadeStart, x: Tensor, fingerprint: string): CascadeStart {
      let mine: CascadeStart | null = null;
      let bytes: Uint8Array | null = null;
      if (group.rank === 0) {
        mine = begin();
        bytes = join([Uint8Array.of(mine.resumed ? 1 : 0), ...encodeState(fingerprint, mine.state, mine.xAdv)]);
      }
      const got = group.broadcastBytes(bytes, 0);
      if (mine !== null) return mine;
      const s = decodeState(decodeSafetensors(got.subarray(1), 'rank 0 state'), 'rank 0 state', fingerprint, x);
      return { ...s, resumed: got[0] === 1 };
    },
    exchange(mine: BatchOutcome | null): (BatchOutcome | null)[] {
      const all = group.allGatherBytes(encodeOutcome(mine));
      return all.map((b, r) => (r === group.rank ? mine : decodeOutcome(b, `rank ${r} outcome`)));
    },
  };
}
