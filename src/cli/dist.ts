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
import { choice, positiveInt, number } from './options.js';
import { InvalidArgumentError } from 'commander';

export interface DistFlags {
  launcher: Launcher;
  masterAddr?: string;
  masterPort?: number;
  distBackend: Backend;
  distTimeout: number;
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
    );
}

/** Joins the run's process group (null for a single process); validates the environment first. */
export function joinGroup(f: DistFlags): ProcessGroup | null {
  const s = distSettings({
    launcher: f.launcher,
    backend: f.distBackend,
    timeoutSeconds: f.distTimeout,
    masterAddr: f.masterAddr,
    masterPort: f.masterPort,
  });
  if (s === null) return null;
  if (!ProcessGroup.backends().includes(s.backend))
    throw new Error(`--dist-backend ${s.backend}: not in this build (available: ${ProcessGroup.backends().join(', ')})`);
  const g = ProcessGroup.init(s);
  if (g.rank === 0) console.error(`carso: ${g.size} ranks (${s.source}, ${s.backend}) via ${s.masterAddr}:${s.masterPort}`);
  return g;
}
