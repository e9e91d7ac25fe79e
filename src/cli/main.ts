#!/usr/bin/env node
// The `carso` command line. Each subcommand lives in its own file and
// registers itself here; all validation happens before any work starts.
import { Command } from 'commander';
import { threadPools, torchVersion, cudaAvailable } from '../tensor/index.js';
import { registerAttack } from './attack.js';
import { registerCompare } from './compare.js';
import { registerDemo } from './demo.js';
import { registerReport } from './report.js';
import { registerTrain } from './train.js';
import { registerTrainPurifier } from './train-purifier.js';
import { registerEval, registerMerge } from './eval.js';

const program = new Command();
program
  .name('carso')
  .description('Adversarial robustness for image classifiers: robust training, AutoAttack, and the CARSO defence.')
  .showHelpAfterError('(run with --help for usage)');

program
  .command('info')
  .description('print versions, the thread count of each pool, the BLAS in use and devices')
  .action(() => {
    const { blasName, ...threads } = threadPools();
    console.log(
      JSON.stringify(
        { node: process.version, libtorch: torchVersion(), threads, blas: blasName, cuda: cudaAvailable() },
        null,
        2,
      ),
    );
  });

registerTrain(program);
registerDemo(program);
registerAttack(program);
registerTrainPurifier(program);
registerReport(program);
registerEval(program);
registerMerge(program);
registerCompare(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`carso: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
