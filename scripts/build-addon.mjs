// `npm install`'s build step: compiles the native addon from source with node-gyp
// (binding.gyp), against Debian's libtorch-dev or $LIBTORCH. Offline: when npm has
// no nodedir configured, Node's own headers next to the running node are used
// (<prefix>/include/node, e.g. /usr/include/node), so node-gyp downloads nothing.
// A contributor's checkout builds with `make` instead (the Makefile sets
// CARSO_SKIP_INSTALL_BUILD=1 around `npm ci`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

if (process.env.CARSO_SKIP_INSTALL_BUILD === '1') process.exit(0);

const args = ['rebuild'];
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi')))
  args.push(`--nodedir=${prefix}`);
// npm puts its bundled node-gyp on PATH for lifecycle scripts
const r = spawnSync('node-gyp', args, { stdio: 'inherit' });
if (r.status !== 0) {
  console.error(
    r.error
      ? `carso: cannot run node-gyp (${r.error.message}): install it (npm install -g node-gyp) or install carso through npm`
      : 'carso: building the native addon failed. It needs a C++17 compiler (g++), make, python3 and libtorch: ' +
          "Debian's libtorch-dev (apt-get install libtorch-dev), or LIBTORCH=/path/to/libtorch (include/ and lib/).",
  );
  process.exit(r.status ?? 1);
}
