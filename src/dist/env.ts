// Where this process stands in a multi-process run, from the launcher's
// environment: torchrun's (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT) or Slurm's (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID; the
// master's address is not Slurm's to give: a flag or MASTER_ADDR).
//
//     torchrun --nproc-per-node 2 --no-python carso attack ...   -> launcher 'auto' finds torchrun's variables
//     srun carso eval ... --launcher slurm --master-addr node17   -> SLURM_PROCID / SLURM_NTASKS
//
// 'auto' never picks Slurm: a process started by hand inside an allocation
// sees SLURM_NTASKS too and would wait for peers that never come.

export const LAUNCHERS = ['auto', 'torchrun', 'slurm', 'none'] as const;
export type Launcher = (typeof LAUNCHERS)[number];
export const BACKENDS = ['gloo', 'nccl'] as const;
export type Backend = (typeof BACKENDS)[number];

/** torchrun's and c10d's default rendezvous port. */
export const DEFAULT_PORT = 29500;
/** c10d's default collective timeout (30 min): a rank may wait that long for a slower peer's batch. */
export const DEFAULT_TIMEOUT_S = 1800;

export interface DistRequest {
  launcher: Launcher;
  backend: Backend;
  /** Seconds a collective (or the rendezvous) may wait for the other ranks. */
  timeoutSeconds: number;
  /** Override the environment's master address / port. */
  masterAddr?: string;
  masterPort?: number;
}

/** One rank's place in the run and how to reach the others. */
export interface DistSettings {
  rank: number;
  size: number;
  /** Rank on this machine (one per device / core set). */
  localRank: number;
  masterAddr: string;
  masterPort: number;
  backend: Backend;
  timeoutMs: number;
  /** Which launcher's variables these came from (for messages). */
  source: 'torchrun' | 'slurm';
  /** torchrun hosts the rendezvous store itself (TORCHELASTIC_USE_AGENT_STORE): every rank is a client. */
  agentStore: boolean;
  /** Key prefix in the store: distinct per torchrun restart so a restarted attempt never reads stale keys. */
  prefix: string;
  /** Gloo's network interface (GLOO_SOCKET_IFNAME), when set. */
  glooInterface?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

function intVar(env: Env, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = env[name];
  if (v === undefined || v.trim() === '') throw new Error(`environment variable ${name} is not set`);
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`environment variable ${name}='${v}' must be an integer in [${min}, ${max}]`);
  return n;
}

/**
 * This process's settings, or null for a single-process run (no launcher, or a
 * group of one). Throws, naming the variable, on a missing or bad value.
 */
export function distSettings(r: DistRequest, env: Env = process.env): DistSettings | null {
  if (!(r.timeoutSeconds > 0) || !Number.isFinite(r.timeoutSeconds))
    throw new Error(`distributed timeout must be a number of seconds > 0, got ${r.timeoutSeconds}`);
  const torchrun = env['WORLD_SIZE'] !== undefined && env['RANK'] !== undefined;
  const launcher = r.launcher === 'auto' ? (torchrun ? 'torchrun' : 'none') : r.launcher;
  if (launcher === 'none') return null;
  const source = launcher;
  const size = intVar(env, source === 'torchrun' ? 'WORLD_SIZE' : 'SLURM_NTASKS', 1);
  const rank = intVar(env, source === 'torchrun' ? 'RANK' : 'SLURM_PROCID', 0, size - 1);
  const localRank = intVar(env, source === 'torchrun' ? 'LOCAL_RANK' : 'SLURM_LOCALID', 0);
  if (size === 1) return null;
  const masterAddr = r.masterAddr ?? env['MASTER_ADDR'];
  if (masterAddr === undefined || masterAddr.trim() === '')
    throw new Error(
      source === 'slurm'
        ? 'Slurm does not name a master: give --master-addr (e.g. the first host of $SLURM_JOB_NODELIST) or set MASTER_ADDR'
        : 'environment variable MASTER_ADDR is not set',
    );
  const masterPort = r.masterPort ?? (env['MASTER_PORT'] === undefined ? DEFAULT_PORT : intVar(env, 'MASTER_PORT', 1, 65535));
  if (!Number.isInteger(masterPort) || masterPort < 1 || masterPort > 65535)
    throw new Error(`master port must be an integer in [1, 65535], got ${masterPort}`);
  // NOTE: as torch.distributed's env:// rendezvous: under torchrun's agent store, keys go under the restart attempt.
  const agentStore = source === 'torchrun' && env['TORCHELASTIC_USE_AGENT_STORE'] === 'True';
  const attempt = env['TORCHELASTIC_RESTART_COUNT'] ?? '0';
  const iface = env['GLOO_SOCKET_IFNAME'];
  return {
    rank,
    size,
    localRank,
    masterAddr,
    masterPort,
    backend: r.backend,
    timeoutMs: Math.round(r.timeoutSeconds * 1000),
    source,
    agentStore,
    prefix: agentStore ? `/worker/attempt_${attempt}/carso` : 'carso',
    ...(iface !== undefined && iface !== '' ? { glooInterface: iface } : {}),
  };
}
