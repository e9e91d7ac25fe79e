// The flags every multi-process command shares (train, train-purifier, attack,
// eval) and joining the process group they describe. Launch with
//
//     torchrun --nproc-per-node 2 --no-python carso attack ... --threads 1
//     srun --ntasks 8 carso eval ... --launcher slurm --master-addr "$MASTER_ADDR"
//
// Without a launcher's variables a command runs as one process, as before.
import type { Command } from 'commander';
import { BACKENDS, DEFAULT_PORT, DEFAULT_TIMEOUT_S, LAUNCHERS, distSettings, type Backend, type Launcher } from '../dist/env.js';
import { ProcessGroup } from '../dist/group.js';
import { pinRank } from '../dist/affinity.js';
import { choice, positiveInt, number } from './options.js';
import { InvalidArgumentError } from 'commander';

export interface DistFlags {
  launcher: Launcher;
  masterAddr?: string;
  masterPort?: number;
  distBackend: Backend;
  distTimeout: number;
  pinCpus?: boolean;
}

function seconds(v: string): number {
  const n = number(v);
  if (!(n > 0)) throw new InvalidArgumentError(`'${v}' must be a number of seconds > 0`);
  return n;
}

function port(v: string): number {
  const n = positiveInt(v);
  if (n > 65535) throw new InvalidArgumentError(`'${v}' is not a port (1-65535)`);
  return n;
}

/** Adds the multi-process flags to a command. */
export function addDistOptions(cmd: Command): Command {
  return cmd
    .option(
      '--launcher <l>',
      `multi-process launch (${LAUNCHERS.join(', ')}): auto = torchrun's RANK/WORLD_SIZE when set, else one process; slurm = SLURM_PROCID/SLURM_NTASKS`,
      choice(LAUNCHERS),
      'auto',
    )
    .option('--master-addr <host>', 'rendezvous host (default: $MASTER_ADDR; Slurm runs must give it)')
    .option('--master-port <port>', `rendezvous port (default: $MASTER_PORT or ${DEFAULT_PORT})`, port)
    .option(
      '--dist-backend <b>',
      `collective backend (${BACKENDS.join(', ')}; nccl needs a CUDA build)`,
      choice(BACKENDS),
      'gloo',
    )
    .option(
      '--dist-timeout <s>',
      'seconds a rank waits for the others at a collective (a dead peer is reported at once)',
      seconds,
      DEFAULT_TIMEOUT_S,
    )
    .option(
      '--pin-cpus',
      'bind each process to its own CPUs (local rank L with T threads: CPUs L*T to L*T+T-1 of those allowed); ' +
        'faster collectives when ranks x threads = cores and the machine is otherwise idle',
    );
}

/** Joins the run's process group (null for a single process); validates the environment first; pins CPUs when asked. */
export function joinGroup(f: DistFlags & { threads?: number }): ProcessGroup | null {
  const s = distSettings({
    launcher: f.launcher,
    backend: f.distBackend,
    timeoutSeconds: f.distTimeout,
    masterAddr: f.masterAddr,
    masterPort: f.masterPort,
  });
  // NOTE: pinned after joining, so that a rank whose CPUs do not fit fails the others' next collective at once
  // (Gloo's threads, started by then, are pinned with the rest)
  if (s === null) {
    if (f.pinCpus) pinRank(0, f.threads ?? 1);
    return null;
  }
  if (!ProcessGroup.backends().includes(s.backend))
    throw new Error(`--dist-backend ${s.backend}: not in this build (available: ${ProcessGroup.backends().join(', ')})`);
  const g = ProcessGroup.init(s);
  const cpus = f.pinCpus ? pinRank(s.localRank, f.threads ?? 1) : null;
  const pinned = cpus === null ? '' : `, rank 0 on CPU ${cpus.join(',')}`;
  if (g.rank === 0)
    console.error(`carso: ${g.size} ranks (${s.source}, ${s.backend}) via ${s.masterAddr}:${s.masterPort}${pinned}`);
  return g;
}
