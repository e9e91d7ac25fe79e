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
#include "carso.h"

#include <ATen/Parallel.h>

#include <dlfcn.h>

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

}  // namespace

NATIVE_MODULE(threads) {
  exports.Set("setBlasThreads", Napi::Function::New(env, SetBlasThreads, "setBlasThreads"));
  exports.Set("blasInfo", Napi::Function::New(env, BlasInfo, "blasInfo"));
  exports.Set("setInteropThreads", Napi::Function::New(env, SetInteropThreads, "setInteropThreads"));
  exports.Set("getInteropThreads", Napi::Function::New(env, GetInteropThreads, "getInteropThreads"));
}
