# carso — the two commands a newcomer runs are `make demo` and `make test`.
# Each bootstraps what is missing (Debian packages when root, npm ci, the addon
# build), idempotently. LIBTORCH=/path/to/libtorch builds against another
# libtorch (e.g. a CUDA build laid out as include/ and lib/). The addon is
# compiled here with g++; `npm install carso` compiles the same native/*.cc with
# node-gyp (binding.gyp, the same flags and LIBTORCH rule).

SHELL := /bin/bash
LIBTORCH ?=
ifeq ($(LIBTORCH),)
  TORCH_INC := -I/usr/include -I/usr/include/torch/csrc/api/include
  TORCH_LIB := -L/usr/lib/x86_64-linux-gnu
else
  TORCH_INC := -I$(LIBTORCH)/include -I$(LIBTORCH)/include/torch/csrc/api/include
  TORCH_LIB := -L$(LIBTORCH)/lib -Wl,-rpath,$(LIBTORCH)/lib
endif
# native/dist.cc (c10d): Gloo comes with libtorch_cpu (its headers: Debian libgloo-dev);
# NCCL only when the libtorch given is a CUDA build. All distributed flags are here.
DIST_FLAGS := $(if $(and $(LIBTORCH),$(wildcard $(LIBTORCH)/lib/libtorch_cuda.so)),-DCARSO_WITH_NCCL,)
NODE_INC ?= /usr/include/node
ADDON := build/Release/carso.node
NATIVE_SRC := $(wildcard native/*.cc)
CXXFLAGS := -std=c++17 -O2 -fPIC -Wall -Wno-unused-parameter -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS
# chromium: the headless browser of the report test (test/eval/report.browser.test.ts)
# libgloo-dev: the headers native/dist.cc's c10d ProcessGroupGloo needs (python3-torch also gives torchrun)
DEB_PACKAGES := libtorch-dev libgloo-dev libopenblas0-pthread dataset-fashion-mnist python3-torch chromium

.PHONY: all setup deps build addon ts test demo bench lint format clean

all: build

# Debian packages (only when missing; apt only when root), then npm ci, then the build.
setup: deps build

deps: .stamp-apt node_modules/.package-lock.json

# Re-checked when the package list changes (ensure-apt.sh does nothing when all are installed).
.stamp-apt: Makefile scripts/ensure-apt.sh
	@bash scripts/ensure-apt.sh $(DEB_PACKAGES)
	@touch $@

# CARSO_SKIP_INSTALL_BUILD: the package's install script (node-gyp, for users of the
# published package) is skipped here; contributors build the addon with the rule below.
node_modules/.package-lock.json: package.json package-lock.json
	CARSO_SKIP_INSTALL_BUILD=1 npm ci --no-audit --no-fund
	@touch $@

build: deps addon ts

addon: $(ADDON)

$(ADDON): $(NATIVE_SRC) native/carso.h node_modules/.package-lock.json
	@mkdir -p $(dir $@)
	g++ $(CXXFLAGS) $(DIST_FLAGS) -I$(NODE_INC) -Inode_modules/node-addon-api $(TORCH_INC) \
	  -shared -o $@.tmp $(NATIVE_SRC) $(TORCH_LIB) -ltorch -ltorch_cpu -lc10
	@# a new file renamed over the old: a running process keeps its mapped copy intact
	mv -f $@.tmp $@

ts: dist/.stamp

dist/.stamp: $(shell find src -name '*.ts' 2>/dev/null) tsconfig.json tsconfig.build.json node_modules/.package-lock.json
	npx tsc -p tsconfig.build.json
	@touch $@

# The tests that compare numbers with committed PyTorch / fra31 fixtures. `make test` runs them a
# second time on ATen's portable kernels (ATEN_CPU_CAPABILITY=default): a tolerance tuned to one
# CPU's vector kernels fails here, not on the next machine (issue 12).
FIXTURE_TESTS := $(addprefix test/,attacks/apgd-extra.test.ts attacks/apgd-golden.test.ts \
  attacks/fab-projections.test.ts attacks/fab-square.test.ts attacks/fab.test.ts attacks/losses.test.ts \
  attacks/square.test.ts carso/aggregation.test.ts eval/aa-nan.test.ts carso/authors-parity.test.ts carso/purifier.test.ts models/preact-resnet.test.ts \
  models/reference-cnn.test.ts models/wide-resnet.test.ts nn/layers.test.ts nn/script-module.test.ts optim/optimizers.test.ts \
  optim/schedule.test.ts tensor/ops_pytorch.test.ts tensor/scope.test.ts)

test: build
	npx tsc -p tsconfig.json --noEmit
	npx eslint src test bench
	npx prettier --check src test bench
	node --import tsx --test --test-reporter=spec --test-concurrency=1 $$(find test -name '*.test.ts' | sort)
	ATEN_CPU_CAPABILITY=default node --import tsx --test --test-reporter=spec --test-concurrency=1 $(FIXTURE_TESTS)

demo: build
	node dist/cli/main.js demo

# Benchmarks: carso vs a PyTorch peer (Debian python3-torch) side by side; long.
# One thread each, OpenBLAS's pools included: carso sets its own (src/tensor/runtime.ts),
# bench/stats.ts's runPeer sets the peer's through OPENBLAS_NUM_THREADS.
bench: build
	node --import tsx bench/engine.ts
	node --import tsx bench/train.ts
	node --import tsx bench/memory.ts
	node --import tsx bench/carso.ts
	node --import tsx bench/dist.ts
	node --import tsx bench/collective.ts
	node --import tsx bench/threads.ts

lint: deps
	npx eslint src test bench
	npx prettier --check src test bench

format: deps
	npx prettier --write src test bench

clean:
	rm -rf build dist .stamp-apt
