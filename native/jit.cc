// TorchScript modules (files written by torch.jit.save) as handles: load one,
// call a method by name, list its parameters and buffers, switch train/eval,
// move it. Mechanism only: which method to call and what its results mean is
// TypeScript's business (src/nn/script-module.ts).
//
//  - A module handle is a Napi::External<ScriptBox>, type-tagged so that a
//    tensor handle passed by mistake is refused instead of reinterpreted.
//  - Parameters and buffers come back as tensor handles on the module's own
//    tensors (same TensorImpl, shared storage): in-place updates from an
//    optimiser reach the module, and Module::to (set_data) moves them in place.
//  - Arguments are converted by the method's schema (as `call` does for ATen
//    operators), results recursively (tensors, tuples, lists, numbers, strings).
//  - Autograd records through the interpreter like through any operator.
#include "carso.h"

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace carso {
namespace {

struct ScriptBox {
  torch::jit::Module m;
  bool loaded = false;
  int64_t bytes = 0;  // parameters and buffers, as reported to V8
};

// NOTE: a random 128-bit tag; only its uniqueness matters.
constexpr napi_type_tag kScriptTag = {0x6361c3a4f1d24b0bULL, 0x9e0d5b8a73c1f26eULL};

ScriptBox* scriptOf(const Napi::Value& v) {
  if (!v.IsExternal() || !v.As<Napi::External<ScriptBox>>().CheckTypeTag(&kScriptTag))
    throw ArgError("expected a TorchScript module handle, got " + describeArg(v));
  ScriptBox* box = v.As<Napi::External<ScriptBox>>().Data();
  if (!box->loaded) throw ArgError("the TorchScript module was disposed");
  return box;
}

int64_t stateBytes(const torch::jit::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += static_cast<int64_t>(p.numel() * p.element_size());
  for (const auto& b : m.buffers()) n += static_cast<int64_t>(b.numel() * b.element_size());
  return n;
}

void unload(Napi::Env env, ScriptBox* box) {
  if (!box->loaded) return;
  Napi::MemoryManagement::AdjustExternalMemory(env, -box->bytes);
  box->bytes = 0;
  box->m = torch::jit::Module();
  box->loaded = false;
}

std::string str(const Napi::Value& v) { return v.As<Napi::String>().Utf8Value(); }

// ---------------------------------------------------------------------------
// Values in and out

c10::IValue scriptArg(const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& arg) {
  if (type->kind() != c10::TypeKind::TupleType) return toIValue(v, type, arg);
  const auto& elems = type->expectRef<c10::TupleType>().elements();
  if (!v.IsArray() || v.As<Napi::Array>().Length() != elems.size())
    throw ArgError(arg.name() + ": expected a tuple of " + std::to_string(elems.size()) + ", got " + describeArg(v));
  std::vector<c10::IValue> out;
  for (size_t i = 0; i < elems.size(); i++) out.push_back(scriptArg(v.As<Napi::Array>().Get(static_cast<uint32_t>(i)), elems[i], arg));
  return c10::ivalue::Tuple::create(std::move(out));
}

Napi::Value result(Napi::Env env, const c10::IValue& iv) {
  if (iv.isTensor()) return iv.toTensor().defined() ? wrap(env, iv.toTensor()) : env.Null();
  if (iv.isNone()) return env.Null();
  if (iv.isBool()) return Napi::Boolean::New(env, iv.toBool());
  if (iv.isInt()) return Napi::Number::New(env, static_cast<double>(iv.toInt()));
  if (iv.isDouble()) return Napi::Number::New(env, iv.toDouble());
  if (iv.isString()) return Napi::String::New(env, iv.toStringRef());
  auto array = [&](c10::ArrayRef<c10::IValue> elems) {
    Napi::Array a = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) a.Set(static_cast<uint32_t>(i), result(env, elems[i]));
    return a;
  };
  if (iv.isTuple()) return array(iv.toTupleRef().elements());
  if (iv.isList()) return array(iv.toListRef());
  throw std::runtime_error(std::string("unsupported result type ") + iv.tagKind() + " (tensors, numbers, strings, tuples, lists)");
}

// ---------------------------------------------------------------------------
// Entry points

// jitLoad(path, device | null) -> module handle
Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    c10::optional<c10::Device> device;
    if (info[1].IsString()) device = c10::Device(str(info[1]));
    auto* box = new ScriptBox();
    try {
      box->m = torch::jit::load(str(info[0]), device);
    } catch (...) {
      delete box;
      throw;
    }
    box->loaded = true;
    box->bytes = stateBytes(box->m);
    Napi::MemoryManagement::AdjustExternalMemory(env, box->bytes);
    auto h = Napi::External<ScriptBox>::New(env, box, [](Napi::Env e, ScriptBox* b) {
      unload(e, b);
      delete b;
    });
    h.TypeTag(&kScriptTag);
    return h;
  }, [&] { return "jitLoad(" + describeArg(info[0]) + ")"; });
}

// jitFree(h): releases the module now (its tensors live on in handles that still hold them).
Napi::Value Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    unload(env, scriptOf(info[0]));
    return env.Undefined();
  }, [] { return std::string("jitFree"); });
}

// jitMethods(h) -> [[name, schema], ...]
Napi::Value Methods(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto methods = scriptOf(info[0])->m.get_methods();
    Napi::Array out = Napi::Array::New(env, methods.size());
    for (size_t i = 0; i < methods.size(); i++) {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::String::New(env, methods[i].name()));
      std::ostringstream os;
      os << methods[i].function().getSchema();
      pair.Set(1u, Napi::String::New(env, os.str()));
      out.Set(static_cast<uint32_t>(i), pair);
    }
    return out;
  }, [] { return std::string("jitMethods"); });
}

// jitCall(h, method, args[], optimize) -> result. optimize: the graph executor's
// optimisations (profiling, fusion, symbolic autodiff) for this call.
Napi::Value Call(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ScriptBox* box = scriptOf(info[0]);
    torch::jit::Method method = box->m.get_method(str(info[1]));
    Napi::Array args = info[2].As<Napi::Array>();
    const auto& schema = method.function().getSchema();
    const auto& formals = schema.arguments();  // formals[0] is self
    if (args.Length() + 1 > formals.size())
      throw ArgError(std::to_string(args.Length()) + " arguments given, the method takes " + std::to_string(formals.size() - 1));
    std::vector<c10::IValue> stack;
    for (size_t i = 1; i < formals.size(); i++) {
      const c10::Argument& a = formals[i];
      if (i - 1 < args.Length()) stack.push_back(scriptArg(args.Get(static_cast<uint32_t>(i - 1)), a.type(), a));
      else if (a.default_value()) stack.push_back(*a.default_value());
      else throw ArgError("missing argument '" + a.name() + "'");
    }
    torch::jit::GraphOptimizerEnabledGuard guard(info[3].ToBoolean().Value());
    return result(env, method(std::move(stack)));
  }, [&] {
    std::string schema;
    try {
      std::ostringstream os;
      os << scriptOf(info[0])->m.get_method(str(info[1])).function().getSchema();
      schema = " [" + os.str() + "]";
    } catch (...) {
    }
    return "jit " + describeArg(info[1]) + "(" + describeArgs(info[2].As<Napi::Array>()) + ")" + schema;
  });
}

// jitTensors(h, 'parameters' | 'buffers') -> [[dotted name, handle], ...], handles on the module's own tensors
// (one handle per tensor: the same handle for each of its names)
Napi::Value Tensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const torch::jit::Module& m = scriptOf(info[0])->m;
    std::string kind = str(info[1]);
    std::vector<std::pair<std::string, at::Tensor>> named;
    if (kind == "parameters")
      for (const auto& p : m.named_parameters()) named.emplace_back(p.name, p.value);
    else if (kind == "buffers")
      for (const auto& b : m.named_buffers()) named.emplace_back(b.name, b.value);
    else
      throw ArgError("kind must be 'parameters' or 'buffers', got '" + kind + "'");
    // NOTE: a tensor under two names (tied weights) gets one handle, so that TypeScript sees one
    // parameter (optimisers would otherwise step it twice)
    std::unordered_map<const c10::TensorImpl*, Napi::Value> handles;
    Napi::Array out = Napi::Array::New(env, named.size());
    for (size_t i = 0; i < named.size(); i++) {
      const c10::TensorImpl* impl = named[i].second.unsafeGetTensorImpl();
      if (handles.find(impl) == handles.end()) handles.emplace(impl, wrap(env, named[i].second));
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::String::New(env, named[i].first));
      pair.Set(1u, handles.at(impl));
      out.Set(static_cast<uint32_t>(i), pair);
    }
    return out;
  }, [] { return std::string("jitTensors"); });
}

// jitTrain(h, on): train (true) or eval (false) mode for the module and every submodule.
Napi::Value Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    scriptOf(info[0])->m.train(info[1].ToBoolean().Value());
    return env.Undefined();
  }, [] { return std::string("jitTrain"); });
}

Napi::Value IsTraining(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    return Napi::Boolean::New(env, scriptOf(info[0])->m.is_training());
  }, [] { return std::string("jitIsTraining"); });
}

// jitTo(h, device): moves parameters and buffers in place (set_data: handles on them follow).
Napi::Value To(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ScriptBox* box = scriptOf(info[0]);
    box->m.to(c10::Device(str(info[1])));
    int64_t bytes = stateBytes(box->m);
    Napi::MemoryManagement::AdjustExternalMemory(env, bytes - box->bytes);
    box->bytes = bytes;
    return env.Undefined();
  }, [&] { return "jitTo(" + describeArg(info[1]) + ")"; });
}

// setData(target, source): target's TensorImpl takes source's data (Variable::set_data), so every
// holder of target (a scripted module's slot, other handles) sees the new dtype / device.
Napi::Value SetData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    at::Tensor target = tensorOf(info[0]);
    target.set_data(tensorOf(info[1]));
    return env.Undefined();
  }, [&] { return "setData(" + describeArg(info[0]) + ", " + describeArg(info[1]) + ")"; });
}

}  // namespace
}  // namespace carso

NATIVE_MODULE(jit) {
  auto def = [&](const char* name, Napi::Function::Callback fn) { exports.Set(name, Napi::Function::New(env, fn, name)); };
  def("jitLoad", carso::Load);
  def("jitFree", carso::Free);
  def("jitMethods", carso::Methods);
  def("jitCall", carso::Call);
  def("jitTensors", carso::Tensors);
  def("jitTrain", carso::Train);
  def("jitIsTraining", carso::IsTraining);
  def("jitTo", carso::To);
  def("setData", carso::SetData);
}
