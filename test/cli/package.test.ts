// The package as a library user gets it: `npm pack` (prepack compiles dist/),
// then `npm install ./carso-<version>.tgz` in a fresh project, which compiles the
// addon from source with node-gyp (binding.gyp). The tarball carries no binary
// and carries the shipped models; in the project, 'carso/tensor' and
// 'carso/attacks' import, a shipped model is attacked, and `npx carso --help` runs.
// Slow (one addon compile: 1-3 min on an idle 2-core machine, far more on a loaded one):
// the price of testing what users run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; files: string[] };

function run(cmd: string, args: string[], cwd: string, timeout = 1_200_000): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false' },
  });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} in ${cwd} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** What the user's script does: APGD-CE on the shipped standard (non-robust) model, 4 random images labelled by it. */
const USER_SCRIPT = `
import { manualSeed, rand, noGrad, tidy } from 'carso/tensor';
import { APGD, asModel } from 'carso/attacks';
import { createModel, shippedFile } from 'carso/models';
import { loadModule } from 'carso/io';
manualSeed(0);
const net = createModel('fmnist-cnn');
loadModule(shippedFile('fmnist-cnn-standard', 'model.safetensors'), net);
const model = asModel(net.eval());
const x = rand([4, 1, 28, 28]);
const y = noGrad(() => tidy(() => model.forward(x).argmax(1)));
const { xAdv, success } = new APGD({ eps: 0.1, norm: 'Linf', nIter: 10 }).attack(model, x, y);
const flipped = noGrad(() => tidy(() => model.forward(xAdv).argmax(1).ne(y).toArray())).map(Boolean);
const moved = tidy(() => xAdv.sub(x).abs().max().item());
console.log(JSON.stringify({ success, flipped, moved }));
`;

test(
  'npm pack + npm install in a fresh project: addon built from source, library and command work',
  { timeout: 2_700_000 },
  (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'carso-package-'));
    try {
      // pack a copy of the checkout, so that prepack's fresh dist/ leaves the working tree alone
      const src = join(dir, 'src');
      mkdirSync(src);
      for (const f of [
        ...pkg.files,
        'src',
        'package.json',
        'package-lock.json',
        'README.md',
        'tsconfig.json',
        'tsconfig.build.json',
      ]) {
        if (f === 'dist' || f.startsWith('!')) continue;
        mkdirSync(dirname(join(src, f)), { recursive: true });
        cpSync(join(ROOT, f), join(src, f), { recursive: true });
      }
      symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));
      run('npm', ['pack', '--pack-destination', dir], src);
      const tgz = join(dir, `carso-${pkg.version}.tgz`);
      const listing = run('tar', ['tzf', tgz], dir).stdout.split('\n');
      assert.deepEqual(
        listing.filter((f) => f.endsWith('.node') || f.startsWith('package/build/') || /^package\/models\/.*checkpoint/.test(f)),
        [],
        'no prebuilt binary, no training checkpoint',
      );
      for (const f of [
        'dist/cli/main.js',
        'dist/tensor/index.js',
        'binding.gyp',
        'native/jit.cc',
        'models/fmnist-cnn-pgd-at/model.safetensors',
      ])
        assert.ok(listing.includes(`package/${f}`), `the tarball carries ${f}`);

      const project = join(dir, 'project');
      mkdirSync(project);
      writeFileSync(
        join(project, 'package.json'),
        JSON.stringify({ name: 'tryout', version: '1.0.0', private: true, type: 'module' }),
      );
      // NOTE: --prefer-offline: dependencies from the local npm cache when there (the registry otherwise)
      const t0 = performance.now();
      run('npm', ['install', tgz, '--prefer-offline', '--no-audit', '--foreground-scripts'], project, 2_400_000);
      t.diagnostic(`npm install (addon compiled from source) took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      const installed = join(project, 'node_modules', 'carso');
      assert.ok(existsSync(join(installed, 'build', 'Release', 'carso.node')), 'node-gyp built build/Release/carso.node');
      assert.ok(readdirSync(join(installed, 'build', 'Release', 'obj.target', 'carso', 'native')).includes('jit.o'));

      writeFileSync(join(project, 'attack.mjs'), USER_SCRIPT);
      const out = JSON.parse(run(process.execPath, ['attack.mjs'], project).stdout) as {
        success: boolean[];
        flipped: boolean[];
        moved: number;
      };
      assert.equal(out.success.length, 4);
      assert.deepEqual(out.flipped, out.success, 'the reported successes are the changed predictions');
      assert.ok(out.success.some(Boolean), 'the non-robust model is broken somewhere at eps 0.1');
      // NOTE: 1e-6: x + eps rounded to float32 (one ulp of values in [0, 1] is at most 6e-8)
      assert.ok(out.moved <= 0.1 + 1e-6, `the images stay within eps (max change ${out.moved})`);
      const help = run('npx', ['carso', '--help'], project).stdout;
      for (const cmd of ['attack', 'train-purifier', 'eval', 'demo']) assert.match(help, new RegExp(`\\b${cmd}\\b`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
