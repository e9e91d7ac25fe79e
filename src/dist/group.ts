// A c10d process group (native/dist.cc): collectives on tensors, plus the
// byte-level broadcast and all-gather the sharded evaluation exchanges its
// results with. Every call blocks until all ranks reach it; a rank that died or
// stayed away longer than the timeout turns into an Error here (and the group
// refuses further calls), never a hang.
//
//     const g = ProcessGroup.init(distSettings({ launcher: 'auto', backend: 'gloo', timeoutSeconds: 1800 })!);
//     g.allReduce(t);            // t: any contiguous tensor, summed over the ranks in place
//     const all = g.allGather(t) // [size, ...t.shape]
import { native } from '../tensor/native.js';
import { Tensor, cat, tensor, tidy, zerosLike } from '../tensor/index.js';
import type { DistSettings } from './env.js';

export type ReduceOp = 'sum' | 'max' | 'min';

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|::1)$/;

export class ProcessGroup {
  private destroyed = false;

  private constructor(
    private readonly id: number,
    readonly rank: number,
    readonly size: number,
    readonly settings: DistSettings,
  ) {}

  /** Joins the group: a TCPStore rendezvous at the master (rank 0 hosts it unless torchrun does), then Gloo/NCCL. */
  static init(s: DistSettings): ProcessGroup {
    // NOTE: c10d's default device binds this machine's hostname; a loopback master means a one-machine run, so loopback.
    const glooHostname = s.glooInterface === undefined && LOOPBACK.test(s.masterAddr) ? s.masterAddr : undefined;
    let id: number;
    try {
      id = native.distInit({
        backend: s.backend,
        host: s.masterAddr,
        port: s.masterPort,
        isServer: s.rank === 0 && !s.agentStore,
        rank: s.rank,
        size: s.size,
        timeoutMs: s.timeoutMs,
        prefix: s.prefix,
        ...(s.glooInterface !== undefined ? { glooInterface: s.glooInterface } : {}),
        ...(glooHostname !== undefined ? { glooHostname } : {}),
      });
    } catch (err) {
      throw new Error(
        `rank ${s.rank} of ${s.size} (${s.source}): rendezvous at ${s.masterAddr}:${s.masterPort} failed within ${s.timeoutMs / 1000} s: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return new ProcessGroup(id, s.rank, s.size, s);
  }

  /** Backends this build can create ('gloo'; 'nccl' in CUDA builds). */
  static backends(): string[] {
    return native.distBackends();
  }

  private get gid(): number {
    if (this.destroyed) throw new Error(`process group (rank ${this.rank} of ${this.size}) used after destroy()`);
    return this.id;
  }

  /** Reduces t over the ranks, in place (t must be contiguous). */
  allReduce(t: Tensor, op: ReduceOp = 'sum'): void {
    native.distAllReduce(this.gid, t.handle, op);
  }

  /** The sum of t over the ranks as a new tensor, differentiable: its gradient is summed over the ranks too. */
  allReduceDiff(t: Tensor): Tensor {
    return new Tensor(native.distAllReduceDiff(this.gid, t.handle));
  }

  /**
   * Every rank's t stacked by rank, [size, ...t.shape], differentiable: one
   * all-reduce of zero-padded rows, so row r's gradient, summed over the ranks,
   * flows back to rank r's t.
   */
  allGatherDiff(t: Tensor): Tensor {
    const rows = Array.from({ length: this.size }, (_, r) => (r === this.rank ? t : zerosLike(t)).unsqueeze(0));
    return this.allReduceDiff(cat(rows, 0));
  }

  /** Root's t to every rank, in place. */
  broadcast(t: Tensor, root = 0): void {
    native.distBroadcast(this.gid, t.handle, root);
  }

  /** Every rank's t (same shape everywhere): [size, ...t.shape], by rank. */
  allGather(t: Tensor): Tensor {
    return new Tensor(native.distAllGather(this.gid, t.handle));
  }

  barrier(): void {
    native.distBarrier(this.gid);
  }

  /** Root's bytes to every rank (other ranks pass null). */
  broadcastBytes(data: Uint8Array | null, root = 0): Uint8Array {
    return tidy(() => {
      const len = tensor([data?.length ?? 0], [1], 'float64');
      this.broadcast(len, root);
      const n = len.item();
      const buf = this.rank === root && data !== null ? tensor(data, [n], 'uint8') : tensor(new Uint8Array(n), [n], 'uint8');
      this.broadcast(buf, root);
      return buf.toBytes();
    });
  }

  /** Every rank's bytes (any length each), by rank. */
  allGatherBytes(data: Uint8Array): Uint8Array[] {
    return tidy(() => {
      // NOTE: lengths as float64: exact for any byte count a process could hold.
      const lens = this.allGather(tensor([data.length], [1], 'float64')).toArray();
      const max = Math.max(...lens);
      const padded = new Uint8Array(max);
      padded.set(data);
      const all = this.allGather(tensor(padded, [max], 'uint8')).toBytes();
      return lens.map((n, r) => all.slice(r * max, r * max + n));
    });
  }

  /** Leaves the group (after a barrier, so no rank is still exchanging with this one). */
  destroy(): void {
    if (this.destroyed) return;
    this.barrier();
    native.distDestroy(this.id);
    this.destroyed = true;
  }
}
