// carso native layer: the thread pools besides libtorch's intra-op one (which
// carso.cc's setNumThreads sets). Mechanism only; the policy (one count for every
// pool, 1 by default, applied at load) is in src/tensor/runtime.ts.
//
//  - OpenBLAS keeps its own pool (one thread per core unless OPENBLAS_NUM_THREADS
//    says otherwise) that at::set_num_threads does not touch. Its entry points are
//    looked up at run time, so an addon built against another BLAS still loads and
//    reports the BLAS as unknown (nothing governed).
//  - libtorch's inter-op pool can be sized once per process, before any inter-op
//    work; later attempts are refused, reported as false rather than thrown.
//  - CPU affinity (Linux): the CPUs this process may run on, and a setter for
//    every thread it has (threads started later inherit their creator's set).
//    Which CPUs a rank takes is src/dist/affinity.ts's choice.
#include "carso.h"

#include <ATen/Parallel.h>

#include <dlfcn.h>

#ifdef __linux__
#include <dirent.h>
#include <sched.h>
#include <cerrno>
#include <cstring>
#endif

namespace {

// The symbol `name` of type T anywhere in the process (libtorch's BLAS included), or null.
template <typename T>
T lookup(const char* name) {
  return reinterpret_cast<T>(dlsym(RTLD_DEFAULT, name));
}

using SetThreads = void (*)(int);
using GetThreads = int (*)();
using GetString = char* (*)();

// setBlasThreads(n) -> true when OpenBLAS was found and set to n threads, false otherwise.
Napi::Value SetBlasThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return carso::guarded(env, [&]() -> Napi::Value {
    int64_t n = carso::toInt(info[0], "threads");
    if (n < 1) throw carso::ArgError("thread count must be >= 1");
    auto set = lookup<SetThreads>("openblas_set_num_threads");
    if (set != nullptr) set(static_cast<int>(n));
    return Napi::Boolean::New(env, set != nullptr);
  }, [] { return std::string("setBlasThreads"); });
}

// blasInfo() -> { threads, config, corename } of OpenBLAS, or null when the BLAS is not OpenBLAS.
Napi::Value BlasInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto get = lookup<GetThreads>("openblas_get_num_threads");
  if (get == nullptr) return env.Null();
  auto str = [&](const char* name) -> Napi::Value {
    auto f = lookup<GetString>(name);
    const char* s = f != nullptr ? f() : nullptr;
    return s != nullptr ? Napi::String::New(env, s) : env.Null();
  };
  Napi::Object o = Napi::Object::New(env);
  o.Set("threads", Napi::Number::New(env, get()));
  o.Set("config", str("openblas_get_config"));
  o.Set("corename", str("openblas_get_corename"));
  return o;
}

// setInteropThreads(n) -> true when set; false when libtorch refuses (already set, or inter-op work started).
Napi::Value SetInteropThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return carso::guarded(env, [&]() -> Napi::Value {
    int64_t n = carso::toInt(info[0], "threads");
    if (n < 1) throw carso::ArgError("thread count must be >= 1");
    try {
      at::set_num_interop_threads(static_cast<int>(n));
    } catch (const c10::Error&) {
      return Napi::Boolean::New(env, false);
    }
    return Napi::Boolean::New(env, true);
  }, [] { return std::string("setInteropThreads"); });
}

Napi::Value GetInteropThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(at::get_num_interop_threads()));
}

// cpuAffinity() -> the CPU numbers this thread may run on (Linux), or null where unknown.
Napi::Value CpuAffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return env.Null();
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set)) out.Set(k++, Napi::Number::New(env, c));
  return out;
#else
  return env.Null();
#endif
}

// setCpuAffinity(cpus) -> how many threads were set: every thread of this process (as
// `taskset -a -p`) to the CPUs given. Throws where the platform has no affinity, or when
// the kernel refuses (a CPU outside the allowed set).
Napi::Value SetCpuAffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return carso::guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsArray()) throw carso::ArgError("setCpuAffinity: expected an array of CPU numbers");
    Napi::Array a = info[0].As<Napi::Array>();
    if (a.Length() == 0) throw carso::ArgError("setCpuAffinity: no CPUs given");
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    for (uint32_t i = 0; i < a.Length(); i++) {
      int64_t c = carso::toInt(a.Get(i), "cpu");
      if (c < 0 || c >= CPU_SETSIZE) throw carso::ArgError("setCpuAffinity: CPU " + std::to_string(c) + " out of range");
      CPU_SET(static_cast<int>(c), &set);
    }
    DIR* dir = opendir("/proc/self/task");
    if (dir == nullptr) throw std::runtime_error(std::string("setCpuAffinity: /proc/self/task: ") + std::strerror(errno));
    int64_t n = 0;
    std::string failed;
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      pid_t tid = static_cast<pid_t>(std::atoi(e->d_name));
      // NOTE: a thread may exit while we walk the list (ESRCH): not an error
      if (sched_setaffinity(tid, sizeof(set), &set) == 0) n++;
      else if (errno != ESRCH && failed.empty()) failed = std::strerror(errno);
    }
    closedir(dir);
    if (!failed.empty()) throw std::runtime_error("setCpuAffinity: " + failed);
    return Napi::Number::New(env, static_cast<double>(n));
#else
    throw std::runtime_error("setCpuAffinity: CPU affinity is not supported on this platform");
#endif
  }, [] { return std::string("setCpuAffinity"); });
}

}  // namespace

NATIVE_MODULE(threads) {
  exports.Set("cpuAffinity", Napi::Function::New(env, CpuAffinity, "cpuAffinity"));
  exports.Set("setCpuAffinity", Napi::Function::New(env, SetCpuAffinity, "setCpuAffinity"));
  exports.Set("setBlasThreads", Napi::Function::New(env, SetBlasThreads, "setBlasThreads"));
  exports.Set("blasInfo", Napi::Function::New(env, BlasInfo, "blasInfo"));
  exports.Set("setInteropThreads", Napi::Function::New(env, SetInteropThreads, "setInteropThreads"));
  exports.Set("getInteropThreads", Napi::Function::New(env, GetInteropThreads, "getInteropThreads"));
}
