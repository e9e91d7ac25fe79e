// carso native layer: process groups over libtorch's distributed engine (c10d).
//
// Mechanism only: a TCPStore rendezvous, a Gloo (CPU) or NCCL (CUDA builds)
// process group, and its collectives on tensor handles. Which ranks exist,
// where the master is, what to average and when to synchronise is TypeScript
// policy (src/dist/).
//
// Design:
//  - A group is a small integer id into a registry (the differentiable
//    all-reduce looks its group up by id from inside the autograd engine).
//  - Every collective runs synchronously on the calling thread: Gloo executes it
//    on its own worker thread and we wait for it with the group's timeout. A
//    dead peer (connection reset) or a silent one (timeout) makes Gloo fail the
//    work with an exception, which `guarded` turns into a JavaScript Error
//    naming the collective, the rank and the group size. Nothing here aborts.
//  - After a failed collective the group is marked broken: ranks may disagree
//    on how far the sequence of collectives went, so every later call on it is
//    refused with the first failure's message instead of pairing up wrongly.
//  - `allReduceDiff` is the one differentiable collective: its forward sums a
//    tensor over the ranks and its backward sums the incoming gradients the same
//    way (torch.distributed.nn.functional.all_reduce). SyncBatchNorm is built on
//    it in TypeScript.
//
// Build notes: the Gloo half of c10d is compiled into libtorch_cpu (Debian's
// libtorch-dev 1.13 and the upstream builds); its header needs Gloo's headers
// (Debian libgloo-dev) and USE_C10D_GLOO. NCCL needs a CUDA libtorch: the
// Makefile defines CARSO_WITH_NCCL when LIBTORCH holds libtorch_cuda; otherwise
// asking for 'nccl' is a clear error. NOTE: the NCCL branch has not been
// compiled or exercised on the CPU-only machines this project is tested on.
#define USE_C10D_GLOO 1
#include "carso.h"

#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef CARSO_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace carso {
namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  int rank = 0;
  int size = 1;
  std::string backend;
  std::chrono::milliseconds timeout{0};
  std::string broken;  // the first failure, once a collective has failed

  std::string name() const {
    return backend + " rank " + std::to_string(rank) + " of " + std::to_string(size);
  }
};

std::mutex g_groupsMu;
// NOTE: never destroyed: at process exit a group still open is not torn down (its worker
// threads could sit in a failed collective, and joining them would wait out the timeout).
std::map<int64_t, std::shared_ptr<Group>>& g_groups = *new std::map<int64_t, std::shared_ptr<Group>>();
int64_t g_nextGroup = 1;

std::shared_ptr<Group> groupOf(int64_t id) {
  std::lock_guard<std::mutex> lock(g_groupsMu);
  auto it = g_groups.find(id);
  if (it == g_groups.end()) throw ArgError("no process group with id " + std::to_string(id) + " (destroyed or never created)");
  return it->second;
}

// Waits for a collective; a failure (peer gone, timeout) breaks the group and is rethrown with context.
void finish(Group& g, const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  try {
    work->wait(g.timeout);
  } catch (const c10::Error& e) {
    g.broken = what + ": " + firstLines(e.what_without_backtrace(), 4);
  } catch (const std::exception& e) {
    g.broken = what + ": " + e.what();
  }
  if (!g.broken.empty()) {
    std::ostringstream s;
    s << g.broken << " (a peer exited, crashed or did not reach this collective within " << g.timeout.count() / 1000.0 << " s)";
    throw std::runtime_error(s.str());
  }
}

void checkUsable(const Group& g) {
  if (!g.broken.empty()) throw std::runtime_error("process group unusable after an earlier failure: " + g.broken);
}

at::Tensor contiguousArg(const Napi::Value& v, const char* what) {
  const at::Tensor& t = tensorOf(v);
  if (!t.is_contiguous()) throw ArgError(std::string(what) + ": tensor must be contiguous, got " + describe(t));
  return t;
}

c10d::ReduceOp reduceOpOf(const std::string& s) {
  if (s == "sum") return c10d::ReduceOp::SUM;
  if (s == "max") return c10d::ReduceOp::MAX;
  if (s == "min") return c10d::ReduceOp::MIN;
  throw ArgError("reduce op must be 'sum', 'max' or 'min', got '" + s + "'");
}

void allReduceInPlace(Group& g, at::Tensor& t, c10d::ReduceOp op) {
  checkUsable(g);
  std::vector<at::Tensor> ts{t};
  c10d::AllreduceOptions opts;
  opts.reduceOp = op;
  finish(g, g.pg->allreduce(ts, opts), "allReduce(" + describe(t) + ") on " + g.name());
}

// The differentiable all-reduce (sum): forward and backward both sum over the ranks.
struct AllReduceSum : public torch::autograd::Function<AllReduceSum> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t group) {
    ctx->saved_data["group"] = group;
    at::Tensor out = x.clone(at::MemoryFormat::Contiguous);
    allReduceInPlace(*groupOf(group), out, c10d::ReduceOp::SUM);
    return out;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list grads) {
    // NOTE: undefined gradients are materialised as zeros by the engine (the default), so every rank joins.
    at::Tensor g = grads[0].clone(at::MemoryFormat::Contiguous);
    allReduceInPlace(*groupOf(ctx->saved_data["group"].toInt()), g, c10d::ReduceOp::SUM);
    return {g, at::Tensor()};
  }
};

std::string stringField(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return "";
  if (!v.IsString()) throw ArgError(std::string(key) + ": expected a string, got " + describeArg(v));
  return v.As<Napi::String>().Utf8Value();
}

// Gloo's network device: a named interface, the interface of an address, or c10d's default
// (this machine's hostname, falling back to loopback). Which one is TypeScript's choice.
std::shared_ptr<::gloo::transport::Device> glooDevice(const std::string& iface, const std::string& hostname) {
  if (!iface.empty()) return c10d::ProcessGroupGloo::createDeviceForInterface(iface);
  if (!hostname.empty()) return c10d::ProcessGroupGloo::createDeviceForHostname(hostname);
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// distInit({ backend, host, port, isServer, rank, size, timeoutMs, prefix, glooInterface?, glooHostname? }) -> group id
Napi::Value DistInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsObject()) throw ArgError("expected an options object, got " + describeArg(info[0]));
    Napi::Object o = info[0].As<Napi::Object>();
    std::string backend = stringField(o, "backend");
    std::string host = stringField(o, "host");
    int64_t port = toInt(o.Get("port"), "port");
    bool isServer = o.Get("isServer").ToBoolean().Value();
    int64_t rank = toInt(o.Get("rank"), "rank");
    int64_t size = toInt(o.Get("size"), "size");
    double timeoutMs = toDouble(o.Get("timeoutMs"), "timeoutMs");
    if (port < 1 || port > 65535) throw ArgError("port must be in [1, 65535], got " + std::to_string(port));
    if (size < 1 || rank < 0 || rank >= size)
      throw ArgError("rank " + std::to_string(rank) + " outside a group of size " + std::to_string(size));
    if (!(timeoutMs >= 1)) throw ArgError("timeout must be at least 1 ms");
#ifndef CARSO_WITH_NCCL
    if (backend == "nccl")
      throw ArgError("backend 'nccl' needs a CUDA build of libtorch; this addon was built without CUDA (use 'gloo')");
#endif
    if (backend != "gloo" && backend != "nccl") throw ArgError("backend must be 'gloo' or 'nccl', got '" + backend + "'");
    auto g = std::make_shared<Group>();
    g->rank = static_cast<int>(rank);
    g->size = static_cast<int>(size);
    g->backend = backend;
    g->timeout = std::chrono::milliseconds(static_cast<int64_t>(timeoutMs));
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(port);
    so.isServer = isServer;
    so.numWorkers = static_cast<std::size_t>(size);
    so.waitWorkers = false;
    so.timeout = g->timeout;
    so.multiTenant = true;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(host, so);
    g->store = c10::make_intrusive<c10d::PrefixStore>(stringField(o, "prefix"), tcp);
    if (backend == "gloo") {
      auto opts = c10d::ProcessGroupGloo::Options::create(g->timeout);
      opts->devices.push_back(glooDevice(stringField(o, "glooInterface"), stringField(o, "glooHostname")));
      opts->threads = 1;  // collectives run one at a time (each is waited for)
      g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, g->rank, g->size, opts);
    }
#ifdef CARSO_WITH_NCCL
    if (backend == "nccl") {
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = g->timeout;
      g->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(g->store, g->rank, g->size, opts);
    }
#endif
    std::lock_guard<std::mutex> lock(g_groupsMu);
    int64_t id = g_nextGroup++;
    g_groups[id] = g;
    return Napi::Number::New(env, static_cast<double>(id));
  }, [&] { return std::string("distInit"); });
}

// distAllReduce(group, tensor, op): in place.
Napi::Value DistAllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto g = groupOf(toInt(info[0], "group"));
    at::Tensor t = contiguousArg(info[1], "allReduce");
    allReduceInPlace(*g, t, reduceOpOf(info[2].As<Napi::String>().Utf8Value()));
    return env.Undefined();
  }, [] { return std::string("dist allReduce"); });
}

// distAllReduceDiff(group, tensor) -> new tensor: the sum over ranks, differentiable (backward: sum of gradients).
Napi::Value DistAllReduceDiff(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    int64_t id = toInt(info[0], "group");
    groupOf(id);
    return wrap(env, AllReduceSum::apply(tensorOf(info[1]), id));
  }, [] { return std::string("dist allReduceDiff"); });
}

// distBroadcast(group, tensor, root): in place.
Napi::Value DistBroadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto g = groupOf(toInt(info[0], "group"));
    checkUsable(*g);
    at::Tensor t = contiguousArg(info[1], "broadcast");
    int64_t root = toInt(info[2], "root");
    if (root < 0 || root >= g->size) throw ArgError("root " + std::to_string(root) + " outside " + g->name());
    std::vector<at::Tensor> ts{t};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    finish(*g, g->pg->broadcast(ts, opts), "broadcast(" + describe(t) + ") on " + g->name());
    return env.Undefined();
  }, [] { return std::string("dist broadcast"); });
}

// distAllGather(group, tensor) -> new tensor [size, ...tensor.shape]: every rank's tensor, by rank.
Napi::Value DistAllGather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto g = groupOf(toInt(info[0], "group"));
    checkUsable(*g);
    at::Tensor t = contiguousArg(info[1], "allGather");
    std::vector<int64_t> shape{g->size};
    shape.insert(shape.end(), t.sizes().begin(), t.sizes().end());
    at::Tensor out = at::empty(shape, t.options());
    std::vector<std::vector<at::Tensor>> outs(1);
    for (int r = 0; r < g->size; r++) outs[0].push_back(out.select(0, r));
    std::vector<at::Tensor> ins{t};
    finish(*g, g->pg->allgather(outs, ins), "allGather(" + describe(t) + ") on " + g->name());
    return wrap(env, out);
  }, [] { return std::string("dist allGather"); });
}

// distBarrier(group)
Napi::Value DistBarrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto g = groupOf(toInt(info[0], "group"));
    checkUsable(*g);
    finish(*g, g->pg->barrier(), "barrier on " + g->name());
    return env.Undefined();
  }, [] { return std::string("dist barrier"); });
}

// distDestroy(group): drops the group (its threads and connections); unknown ids are ignored.
Napi::Value DistDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    int64_t id = toInt(info[0], "group");
    std::shared_ptr<Group> g;
    {
      std::lock_guard<std::mutex> lock(g_groupsMu);
      auto it = g_groups.find(id);
      if (it == g_groups.end()) return env.Undefined();
      g = it->second;
      g_groups.erase(it);
    }
    // NOTE: a broken group is leaked on purpose: its worker threads may still sit in a failed
    // collective, and joining them could wait out the whole timeout at exit.
    if (!g->broken.empty()) new std::shared_ptr<Group>(g);
    return env.Undefined();
  }, [] { return std::string("dist destroy"); });
}

// distBackends() -> the backends this build can create.
Napi::Value DistBackends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env);
  a.Set(0u, Napi::String::New(env, "gloo"));
#ifdef CARSO_WITH_NCCL
  a.Set(1u, Napi::String::New(env, "nccl"));
#endif
  return a;
}

}  // namespace
}  // namespace carso

NATIVE_MODULE(dist) {
  auto def = [&](const char* name, Napi::Function::Callback fn) { exports.Set(name, Napi::Function::New(env, fn, name)); };
  def("distInit", carso::DistInit);
  def("distAllReduce", carso::DistAllReduce);
  def("distAllReduceDiff", carso::DistAllReduceDiff);
  def("distBroadcast", carso::DistBroadcast);
  def("distAllGather", carso::DistAllGather);
  def("distBarrier", carso::DistBarrier);
  def("distDestroy", carso::DistDestroy);
  def("distBackends", carso::DistBackends);
}
