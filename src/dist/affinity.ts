// --pin-cpus: each process on its own cores. A collective wakes threads that
// are not the caller's (Gloo's worker and network loop); on a machine with no
// spare core the scheduler can queue them behind another rank's busy thread for
// a time slice. Measured on 2 cores (bench/collective): a small all-reduce right
// after 6 ms of compute takes 2.16 ms unpinned and 0.76 ms pinned.
//
// The policy: local rank L running T threads takes CPUs [L·T, (L+1)·T) of the
// set this process may use, which every local rank must share (torchrun does not
// bind; under Slurm's --cpu-bind each rank already has its own and needs no pinning).
// Off by default: on a busy machine a pinned rank cannot move off a loaded core.
//
//     const cpus = pinRank(settings?.localRank ?? 0, threads);   // e.g. [1] for local rank 1, 1 thread
import { native } from '../tensor/native.js';

/** The CPUs of local rank `localRank` with `threads` threads each; throws when they do not fit in `allowed`. */
export function cpuPlan(
  allowed: readonly number[] | null,
  localRank: number,
  threads: number,
  localRanks: number | null,
): number[] {
  if (allowed === null || allowed.length === 0) throw new Error('--pin-cpus: CPU affinity is not available on this platform');
  const ranks = Math.max(localRanks ?? 0, localRank + 1);
  if (ranks * threads > allowed.length)
    throw new Error(
      `--pin-cpus: ${ranks} process(es) on this machine x ${threads} thread(s) need ${ranks * threads} CPUs, ` +
        `but this process may use ${allowed.length} (${allowed.join(',')}): lower --threads, start fewer ranks, or drop ` +
        "--pin-cpus (a launcher that binds each rank itself, as Slurm's --cpu-bind, needs none)",
    );
  return allowed.slice(localRank * threads, (localRank + 1) * threads);
}

/** How many processes the launcher starts on this machine (torchrun's LOCAL_WORLD_SIZE, Slurm's SLURM_NTASKS_PER_NODE), or null. */
export function localRanks(env: NodeJS.ProcessEnv = process.env): number | null {
  const v = env['LOCAL_WORLD_SIZE'] ?? env['SLURM_NTASKS_PER_NODE'];
  const n = v === undefined ? NaN : parseInt(v, 10); // Slurm may write "2(x3)": 2 tasks on each of 3 nodes
  return Number.isInteger(n) && n > 0 ? n : null;
}

/** Every thread of this process (and those it starts later) onto local rank `localRank`'s CPUs; returns them. */
export function pinRank(localRank: number, threads: number, env: NodeJS.ProcessEnv = process.env): number[] {
  const cpus = cpuPlan(native.cpuAffinity(), localRank, threads, localRanks(env));
  native.setCpuAffinity(cpus);
  return cpus;
}
