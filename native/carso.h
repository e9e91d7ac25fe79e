// carso native layer: what the addon's files share (carso.cc is the core;
// other files add entry points with NATIVE_MODULE). See carso.cc's header for
// the design: tensor handles, boxed operator calls, every C++ exception turned
// into a JavaScript Error.
#pragma once

#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/core/function_schema.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace carso {

// A tensor handle: a Napi::External<Box> owning one at::Tensor.
struct Box {
  at::Tensor t;
  int64_t bytes = 0;  // what was reported to V8 for this handle
  // What t was, kept on release so that a use-after-free error can name it.
  c10::SmallVector<int64_t, 6> freedSizes;
  at::ScalarType freedType = at::kFloat;
};

// A new JS handle owning t (its bytes reported to V8).
Napi::Value wrap(Napi::Env env, at::Tensor t);
// The Box / tensor behind a handle; throws on anything else or on a freed handle.
Box* boxOf(const Napi::Value& v);
const at::Tensor& tensorOf(const Napi::Value& v);
// A JS array of handles (null / undefined: empty).
std::vector<at::Tensor> tensorList(const Napi::Value& v);

// For error messages: "Tensor[2, 3] float32", a JS argument, a list of them.
std::string describe(const at::Tensor& t);
std::string describeArg(const Napi::Value& v);
std::string describeArgs(const Napi::Array& args);
std::string dtypeName(at::ScalarType st);
at::ScalarType dtypeFromName(const std::string& s);
std::string firstLines(const std::string& msg, int maxLines);
std::string describeShape(c10::IntArrayRef sizes, at::ScalarType st);

// A bad argument from JavaScript.
struct ArgError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
int64_t toInt(const Napi::Value& v, const std::string& what);
double toDouble(const Napi::Value& v, const std::string& what);
// A JS argument as an IValue of `type` (what `call` does per operator argument; `arg` names it in errors).
c10::IValue toIValue(const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& arg);

// Runs `body`; converts every C++ exception into a JS Error prefixed with `context()`.
template <typename Body, typename Context>
Napi::Value guarded(Napi::Env env, Body body, Context context) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, context() + ": " + firstLines(e.what_without_backtrace(), 6));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, context() + ": " + e.what());
  } catch (...) {
    throw Napi::Error::New(env, context() + ": unknown native error");
  }
}

// Entry points of another native file: called with the exports object at load.
using Extension = std::function<void(Napi::Env, Napi::Object&)>;
std::vector<Extension>& extensions();

Napi::Object InitCore(Napi::Env env, Napi::Object exports);

}  // namespace carso

// In a native file other than carso.cc: NATIVE_MODULE(jit) { exports.Set(...); }
#define NATIVE_MODULE(name)                                                          \
  static void carso_init_##name(Napi::Env env, Napi::Object& exports);               \
  static const bool carso_registered_##name = [] {                                   \
    carso::extensions().push_back(carso_init_##name);                                \
    return true;                                                                     \
  }();                                                                               \
  static void carso_init_##name(Napi::Env env, Napi::Object& exports)
