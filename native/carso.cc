// carso native layer: a thin Node-API binding over libtorch.
//
// It knows tensors, operator dispatch, autograd, RNG, threads, devices and CPU
// memory blocks. It knows nothing about models, attacks or CARSO: all policy
// lives in TypeScript.
//
// Design:
//  - A tensor handle is a Napi::External<Box> owning one at::Tensor. `free`
//    releases it deterministically; the finalizer releases what escapes.
//  - `call(opId, args)` calls any ATen operator through the c10 dispatcher
//    (boxed). Arguments are converted by the operator schema's declared types,
//    never by the JS value's type (an int passed as a double trips an internal
//    assert in the boxed kernels).
//  - Every entry point catches every C++ exception and rethrows it as a JS
//    Error naming the operator and the argument shapes: the process never
//    aborts on bad input.
//  - libtorch's CPU allocator is replaced by a bounded cache of freed blocks
//    (see "Caching CPU allocator" below); the bound is set from TypeScript.
#include "carso.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/utils.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace carso {

// ---------------------------------------------------------------------------
// Tensor handles and memory accounting (Box: carso.h)

std::atomic<int64_t> g_live{0};   // handles not yet released
std::atomic<int64_t> g_bytes{0};  // bytes reported to V8 and not yet released

int64_t tensorBytes(const at::Tensor& t) {
  // NOTE: views are counted as if they owned their elements; this overcounts
  // slightly but keeps V8's GC pressure on the safe side.
  return t.defined() ? static_cast<int64_t>(t.numel() * t.element_size()) : 0;
}

void release(Napi::Env env, Box* box) {
  if (box->bytes != 0) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -box->bytes);
    g_bytes -= box->bytes;
    box->bytes = 0;
  }
  if (box->t.defined()) {
    box->freedSizes.assign(box->t.sizes().begin(), box->t.sizes().end());
    box->freedType = box->t.scalar_type();
    box->t = at::Tensor();
    g_live--;
  }
}

Napi::Value wrap(Napi::Env env, at::Tensor t) {
  Box* box = new Box();
  box->bytes = tensorBytes(t);
  box->t = std::move(t);
  g_live++;
  if (box->bytes != 0) {
    g_bytes += box->bytes;
    Napi::MemoryManagement::AdjustExternalMemory(env, box->bytes);
  }
  return Napi::External<Box>::New(env, box, [](Napi::Env e, Box* b) {
    release(e, b);
    delete b;
  });
}

// ---------------------------------------------------------------------------
// Caching CPU allocator
//
// Why: a training or attack step allocates hundreds of MB in multi-MB blocks, and
// `tidy` frees a whole step's tensors at once. glibc gives blocks that big back
// to the kernel (munmap, heap trim) and the next step faults every page in again:
// a CARSO input-gradient call took ~40k minor page faults against PyTorch's
// 12.5k, and ran 18% slower. Here freed blocks of at least kMinCached bytes are
// kept, keyed by their rounded size, and handed to the next request of that size.
// Steps repeat their shapes, so a steady loop stops asking the kernel for memory.
// The cache is bounded (`setAllocatorCache`, the bound is TypeScript policy; 0
// turns caching off): when a free would push it past the bound, every cached
// block is released first, so blocks of shapes no longer in use do not linger.
// Blocks under kMinCached are plain posix_memalign/free.

constexpr size_t kMinCached = size_t{64} << 10;
constexpr size_t kAlign = 64;  // libtorch's CPU alignment; the size header sits in front

struct BlockCache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> idle;  // rounded size -> blocks (data pointers)
  size_t cachedBytes = 0;
  size_t cap = 0;
  uint64_t hits = 0, misses = 0;

  void flushLocked() {
    for (auto& [size, blocks] : idle)
      for (void* p : blocks) std::free(static_cast<char*>(p) - kAlign);
    idle.clear();
    cachedBytes = 0;
  }
};

// Never destroyed: tensors that outlive static destruction still call the deleter.
BlockCache& blockCache() {
  static BlockCache* cache = new BlockCache();
  return *cache;
}

// Rounds up to 1/8 of the size's power of two (at most 12.5% slack), so that
// near-equal requests (the last, smaller batch of an epoch) share blocks.
size_t roundedSize(size_t n) {
  size_t p = size_t{1} << (63 - __builtin_clzll(n));
  size_t step = std::max<size_t>(p / 8, 4096);
  return (n + step - 1) / step * step;
}

void cachedDelete(void* data) {
  if (data == nullptr) return;
  char* base = static_cast<char*>(data) - kAlign;
  size_t size = *reinterpret_cast<size_t*>(base);
  BlockCache& c = blockCache();
  if (size >= kMinCached) {
    std::lock_guard<std::mutex> lock(c.mu);
    if (size <= c.cap) {
      if (c.cachedBytes + size > c.cap) c.flushLocked();
      c.idle[size].push_back(data);
      c.cachedBytes += size;
      return;
    }
  }
  std::free(base);
}

class CachingCPUAllocator final : public at::Allocator {
 public:
  at::DataPtr allocate(size_t n) const override {
    if (n == 0) return {nullptr, nullptr, &cachedDelete, at::Device(at::kCPU)};
    // Every block carries the header, small ones too: raw_allocate callers free
    // through raw_deleter(), which must handle whatever allocate returned.
    size_t size = n < kMinCached ? n : roundedSize(n);
    BlockCache& c = blockCache();
    if (size >= kMinCached) {
      std::lock_guard<std::mutex> lock(c.mu);
      auto it = c.idle.find(size);
      if (it != c.idle.end() && !it->second.empty()) {
        void* data = it->second.back();
        it->second.pop_back();
        c.cachedBytes -= size;
        c.hits++;
        return {data, data, &cachedDelete, at::Device(at::kCPU)};
      }
      c.misses++;
    }
    void* base = nullptr;
    if (posix_memalign(&base, kAlign, size + kAlign) != 0) {
      {  // out of memory: give the cache back and try once more
        std::lock_guard<std::mutex> lock(c.mu);
        c.flushLocked();
      }
      if (posix_memalign(&base, kAlign, size + kAlign) != 0)
        throw std::runtime_error("CPU allocator: out of memory allocating " + std::to_string(n) + " bytes");
    }
    *static_cast<size_t*>(base) = size;
    void* data = static_cast<char*>(base) + kAlign;
    return {data, data, &cachedDelete, at::Device(at::kCPU)};
  }
  at::DeleterFnPtr raw_deleter() const override { return &cachedDelete; }
};

CachingCPUAllocator g_cachingAllocator;

Box* boxOf(const Napi::Value& v) {
  if (!v.IsExternal()) throw std::invalid_argument("expected a tensor handle");
  Box* box = v.As<Napi::External<Box>>().Data();
  if (!box->t.defined())
    throw std::invalid_argument(describeShape(box->freedSizes, box->freedType) + " was already freed (used after tidy/dispose?)");
  return box;
}

const at::Tensor& tensorOf(const Napi::Value& v) { return boxOf(v)->t; }

// ---------------------------------------------------------------------------
// Names <-> enums

const std::vector<std::pair<std::string, at::ScalarType>>& dtypeNames() {
  static const std::vector<std::pair<std::string, at::ScalarType>> names = {
      {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf},
      {"bfloat16", at::kBFloat16}, {"int64", at::kLong}, {"int32", at::kInt},
      {"int16", at::kShort},   {"int8", at::kChar},      {"uint8", at::kByte},
      {"bool", at::kBool}};
  return names;
}

at::ScalarType dtypeFromName(const std::string& s) {
  for (const auto& [name, st] : dtypeNames())
    if (name == s) return st;
  throw std::invalid_argument("unknown dtype '" + s + "' (valid: float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool)");
}

std::string dtypeName(at::ScalarType st) {
  for (const auto& [name, s] : dtypeNames())
    if (s == st) return name;
  return c10::toString(st);
}

std::string describeShape(c10::IntArrayRef sizes, at::ScalarType st) {
  std::ostringstream os;
  os << "Tensor[";
  for (size_t i = 0; i < sizes.size(); i++) os << (i ? ", " : "") << sizes[i];
  os << "] " << dtypeName(st);
  return os.str();
}

std::string describe(const at::Tensor& t) {
  if (!t.defined()) return "Tensor(undefined)";
  std::string s = describeShape(t.sizes(), t.scalar_type());
  if (!t.device().is_cpu()) s += " " + t.device().str();
  return s;
}

// A short description of a JS argument, for error messages.
std::string describeArg(const Napi::Value& v) {
  if (v.IsExternal()) {
    Box* b = v.As<Napi::External<Box>>().Data();
    return b->t.defined() ? describe(b->t) : describeShape(b->freedSizes, b->freedType) + " (freed)";
  }
  if (v.IsArray()) {
    Napi::Array a = v.As<Napi::Array>();
    std::string s = "[";
    for (uint32_t i = 0; i < a.Length() && i < 8; i++) s += (i ? ", " : "") + describeArg(a.Get(i));
    if (a.Length() > 8) s += ", ...";
    return s + "]";
  }
  if (v.IsNumber()) {
    std::ostringstream os;
    os << v.As<Napi::Number>().DoubleValue();
    return os.str();
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsString()) return "'" + v.As<Napi::String>().Utf8Value() + "'";
  if (v.IsNull() || v.IsUndefined()) return "None";
  return "?";
}

// ---------------------------------------------------------------------------
// Schema-aware argument conversion

int64_t toInt(const Napi::Value& v, const std::string& what) {
  if (v.IsBigInt()) {
    bool lossless = true;
    return v.As<Napi::BigInt>().Int64Value(&lossless);
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!v.IsNumber()) throw ArgError(what + ": expected an integer, got " + describeArg(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::abs(d) > 9.2e18 || d != static_cast<double>(static_cast<int64_t>(d)))
    throw ArgError(what + ": expected an integer, got " + describeArg(v));
  return static_cast<int64_t>(d);
}

double toDouble(const Napi::Value& v, const std::string& what) {
  if (!v.IsNumber()) throw ArgError(what + ": expected a number, got " + describeArg(v));
  return v.As<Napi::Number>().DoubleValue();
}

std::vector<int64_t> toIntVector(const Napi::Value& v, const c10::Argument& arg) {
  std::vector<int64_t> out;
  if (v.IsNumber() || v.IsBigInt()) {
    // A single int for an int[N] argument is broadcast, as in PyTorch (kernel_size=3).
    int64_t n = arg.N() ? *arg.N() : 1;
    out.assign(static_cast<size_t>(n), toInt(v, arg.name()));
    return out;
  }
  if (!v.IsArray()) throw ArgError(arg.name() + ": expected an int list, got " + describeArg(v));
  Napi::Array a = v.As<Napi::Array>();
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(toInt(a.Get(i), arg.name()));
  return out;
}

c10::IValue toIValue(const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& arg);

// Whether the schema declares `arg` as a (possibly optional) ScalarType.
bool isDtypeArg(const c10::Argument& arg) {
  c10::TypePtr t = arg.real_type();
  if (t->kind() == c10::TypeKind::OptionalType) t = t->expectRef<c10::OptionalType>().getElementType();
  return t->kind() == c10::TypeKind::ScalarTypeType;
}

c10::IValue toList(const Napi::Value& v, const c10::TypePtr& elem, const c10::Argument& arg) {
  switch (elem->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      return c10::IValue(toIntVector(v, arg));
    default:
      break;
  }
  if (!v.IsArray()) throw ArgError(arg.name() + ": expected a list, got " + describeArg(v));
  Napi::Array a = v.As<Napi::Array>();
  switch (elem->kind()) {
    case c10::TypeKind::TensorType: {
      std::vector<at::Tensor> ts;
      ts.reserve(a.Length());
      for (uint32_t i = 0; i < a.Length(); i++) ts.push_back(tensorOf(a.Get(i)));
      return c10::IValue(ts);
    }
    case c10::TypeKind::FloatType: {
      std::vector<double> ds;
      for (uint32_t i = 0; i < a.Length(); i++) ds.push_back(toDouble(a.Get(i), arg.name()));
      return c10::IValue(ds);
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> bs;
      for (uint32_t i = 0; i < a.Length(); i++) bs.push_back(a.Get(i).ToBoolean().Value());
      return c10::IValue(bs);
    }
    case c10::TypeKind::OptionalType: {
      // Tensor?[] (aten::index): null entries mean "take the whole dimension".
      c10::List<c10::optional<at::Tensor>> ts;
      for (uint32_t i = 0; i < a.Length(); i++) {
        Napi::Value e = a.Get(i);
        if (e.IsNull() || e.IsUndefined()) ts.push_back(c10::nullopt);
        else ts.push_back(tensorOf(e));
      }
      return c10::IValue(ts);
    }
    default:
      throw ArgError(arg.name() + ": unsupported list type " + elem->str());
  }
}

c10::IValue toIValue(const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& arg) {
  switch (type->kind()) {
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return toIValue(v, type->expectRef<c10::OptionalType>().getElementType(), arg);
    case c10::TypeKind::TensorType:
      return c10::IValue(tensorOf(v));
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      // NOTE: libtorch 1.13 declares ScalarType arguments as int (their real
      // type is ScalarType): a dtype name is accepted for those only.
      if (v.IsString() && isDtypeArg(arg))
        return c10::IValue(static_cast<int64_t>(dtypeFromName(v.As<Napi::String>().Utf8Value())));
      return c10::IValue(toInt(v, arg.name()));
    case c10::TypeKind::FloatType:
      return c10::IValue(toDouble(v, arg.name()));
    case c10::TypeKind::BoolType:
      if (!v.IsBoolean()) throw ArgError(arg.name() + ": expected a boolean, got " + describeArg(v));
      return c10::IValue(v.As<Napi::Boolean>().Value());
    case c10::TypeKind::NumberType: {  // Scalar
      if (v.IsBoolean()) return c10::IValue(at::Scalar(v.As<Napi::Boolean>().Value()));
      if (v.IsBigInt()) return c10::IValue(at::Scalar(toInt(v, arg.name())));
      double d = toDouble(v, arg.name());
      // NOTE: integral JS numbers become integral Scalars so that integer
      // tensors keep their dtype (x.add(1) on int64 stays int64).
      if (std::isfinite(d) && std::abs(d) < 9.0e15 && d == static_cast<double>(static_cast<int64_t>(d)))
        return c10::IValue(at::Scalar(static_cast<int64_t>(d)));
      return c10::IValue(at::Scalar(d));
    }
    case c10::TypeKind::ScalarTypeType:
      if (v.IsString()) return c10::IValue(static_cast<int64_t>(dtypeFromName(v.As<Napi::String>().Utf8Value())));
      return c10::IValue(toInt(v, arg.name()));
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType:
      return c10::IValue(toInt(v, arg.name()));
    case c10::TypeKind::DeviceObjType:
      if (!v.IsString()) throw ArgError(arg.name() + ": expected a device string such as 'cpu' or 'cuda:0'");
      return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    case c10::TypeKind::StringType:
      if (!v.IsString()) throw ArgError(arg.name() + ": expected a string, got " + describeArg(v));
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::ListType:
      return toList(v, type->expectRef<c10::ListType>().getElementType(), arg);
    case c10::TypeKind::GeneratorType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      throw ArgError(arg.name() + ": generators are not supported; seed the default generator instead");
    default:
      throw ArgError(arg.name() + ": unsupported argument type " + type->str());
  }
}

// ---------------------------------------------------------------------------
// Results back to JS

Napi::Value fromIValue(Napi::Env env, const c10::IValue& iv, const Napi::Array& jsArgs,
                       const std::vector<const at::Tensor*>& inTensors);

Napi::Value tensorResult(Napi::Env env, const at::Tensor& t, const Napi::Array& jsArgs,
                         const std::vector<const at::Tensor*>& inTensors) {
  if (!t.defined()) return env.Null();
  // In-place and out= operators return the argument they wrote: hand back the
  // same JS handle instead of a second owner of the same tensor.
  for (size_t i = 0; i < inTensors.size(); i++)
    if (inTensors[i] != nullptr && inTensors[i]->is_same(t)) return jsArgs.Get(static_cast<uint32_t>(i));
  return wrap(env, t);
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& iv, const Napi::Array& jsArgs,
                       const std::vector<const at::Tensor*>& inTensors) {
  if (iv.isTensor()) return tensorResult(env, iv.toTensor(), jsArgs, inTensors);
  if (iv.isNone()) return env.Null();
  if (iv.isBool()) return Napi::Boolean::New(env, iv.toBool());
  if (iv.isInt()) return Napi::Number::New(env, static_cast<double>(iv.toInt()));
  if (iv.isDouble()) return Napi::Number::New(env, iv.toDouble());
  if (iv.isScalar()) {
    at::Scalar s = iv.toScalar();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    if (s.isIntegral(false)) return Napi::Number::New(env, static_cast<double>(s.toLong()));
    return Napi::Number::New(env, s.toDouble());
  }
  if (iv.isTensorList()) {
    auto list = iv.toTensorList();
    Napi::Array a = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++)
      a.Set(static_cast<uint32_t>(i), tensorResult(env, list.get(i), jsArgs, inTensors));
    return a;
  }
  if (iv.isIntList()) {
    auto list = iv.toIntVector();
    Napi::Array a = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(list[i])));
    return a;
  }
  if (iv.isTuple()) {
    const auto& elems = iv.toTupleRef().elements();
    Napi::Array a = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) a.Set(static_cast<uint32_t>(i), fromIValue(env, elems[i], jsArgs, inTensors));
    return a;
  }
  throw std::runtime_error(std::string("unsupported return type ") + iv.tagKind());
}

// ---------------------------------------------------------------------------
// Error boundary

std::string firstLines(const std::string& msg, int maxLines) {
  std::string out;
  int lines = 0;
  for (char c : msg) {
    if (c == '\n' && ++lines >= maxLines) break;
    out += c;
  }
  return out;
}

std::string describeArgs(const Napi::Array& args) {
  std::string s;
  for (uint32_t i = 0; i < args.Length(); i++) s += (i ? ", " : "") + describeArg(args.Get(i));
  return s;
}

// ---------------------------------------------------------------------------
// Operators

std::vector<c10::OperatorHandle> g_ops;
std::unordered_map<std::string, int32_t> g_opIds;

std::string opName(const c10::OperatorHandle& op) {
  const auto& n = op.operator_name();
  return n.overload_name.empty() ? n.name : n.name + "." + n.overload_name;
}

// opId(name, overload) -> integer id for `call`. Throws if no such operator.
Napi::Value OpId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  return guarded(env, [&]() -> Napi::Value {
    std::string key = name + "." + overload;
    auto it = g_opIds.find(key);
    if (it != g_opIds.end()) return Napi::Number::New(env, it->second);
    auto op = c10::Dispatcher::singleton().findSchema({name, overload});
    if (!op) throw std::invalid_argument("no such operator (check the name and overload against native_functions.yaml)");
    g_ops.push_back(*op);
    int32_t id = static_cast<int32_t>(g_ops.size() - 1);
    g_opIds[key] = id;
    return Napi::Number::New(env, id);
  }, [&] { return name + (overload.empty() ? "" : "." + overload); });
}

Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    int32_t id = info[0].As<Napi::Number>().Int32Value();
    std::ostringstream os;
    os << g_ops.at(static_cast<size_t>(id)).schema();
    return Napi::String::New(env, os.str());
  }, [] { return std::string("opSchema"); });
}

// call(opId, args[]) -> Tensor | value | array (several returns).
Napi::Value Call(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  Napi::Array args = info[1].As<Napi::Array>();
  const c10::OperatorHandle& op = g_ops.at(static_cast<size_t>(id));
  return guarded(env, [&]() -> Napi::Value {
    const c10::FunctionSchema& schema = op.schema();
    const auto& formals = schema.arguments();
    uint32_t n = args.Length();
    if (n > formals.size())
      throw ArgError("too many arguments: " + std::to_string(n) + " given, schema takes " + std::to_string(formals.size()));
    torch::jit::Stack stack;
    stack.reserve(formals.size());
    std::vector<const at::Tensor*> inTensors(n, nullptr);
    for (size_t i = 0; i < formals.size(); i++) {
      const c10::Argument& formal = formals[i];
      Napi::Value v = i < n ? args.Get(static_cast<uint32_t>(i)) : env.Undefined();
      if (v.IsUndefined()) {
        if (formal.default_value()) {
          stack.push_back(*formal.default_value());
          continue;
        }
        if (formal.type()->kind() != c10::TypeKind::OptionalType)
          throw ArgError("missing argument '" + formal.name() + "'");
      }
      stack.push_back(toIValue(v, formal.type(), formal));
      // Only arguments the op writes (Tensor(a!)) are handed back as the same handle;
      // an op that merely returns its input (contiguous, to, a no-op flatten) gets a
      // new handle, so disposing its result never frees the input.
      const c10::AliasInfo* alias = formal.alias_info();
      if (v.IsExternal() && alias != nullptr && alias->isWrite()) inTensors[i] = &tensorOf(v);
    }
    op.callBoxed(&stack);
    if (stack.empty()) return env.Undefined();
    if (stack.size() == 1) return fromIValue(env, stack[0], args, inTensors);
    Napi::Array out = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); i++) out.Set(static_cast<uint32_t>(i), fromIValue(env, stack[i], args, inTensors));
    return out;
  }, [&] { return "aten op " + opName(op) + "(" + describeArgs(args) + ")"; });
}

// ---------------------------------------------------------------------------
// Data in and out

// fromArray(typedArray, shape, dtype, device?) -> Tensor (copies).
Napi::Value FromArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
    Napi::Array jsShape = info[1].As<Napi::Array>();
    at::ScalarType st = dtypeFromName(info[2].As<Napi::String>().Utf8Value());
    std::vector<int64_t> shape;
    int64_t numel = 1;
    for (uint32_t i = 0; i < jsShape.Length(); i++) {
      int64_t d = toInt(jsShape.Get(i), "shape");
      if (d < 0) throw ArgError("negative dimension in shape");
      shape.push_back(d);
      numel *= d;
    }
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(st));
    size_t nbytes = static_cast<size_t>(numel) * t.element_size();
    if (ta.ByteLength() != nbytes)
      throw ArgError("typed array holds " + std::to_string(ta.ByteLength()) + " bytes, shape and dtype need " + std::to_string(nbytes));
    if (nbytes) std::memcpy(t.data_ptr(), static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), nbytes);
    if (info.Length() > 3 && info[3].IsString()) {
      c10::Device dev(info[3].As<Napi::String>().Utf8Value());
      if (!dev.is_cpu()) t = t.to(dev);
    }
    return wrap(env, t);
  }, [] { return std::string("fromArray"); });
}

// toArray(t) -> ArrayBuffer holding the contiguous CPU bytes of t.
Napi::Value ToArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    at::Tensor t = tensorOf(info[0]).detach().to(at::kCPU).contiguous();
    size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, nbytes);
    if (nbytes) std::memcpy(buf.Data(), t.data_ptr(), nbytes);
    return buf;
  }, [&] { return "toArray(" + describeArg(info[0]) + ")"; });
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const at::Tensor& t = tensorOf(info[0]);
    Napi::Array a = Napi::Array::New(env, static_cast<size_t>(t.dim()));
    for (int64_t i = 0; i < t.dim(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t.size(i))));
    return a;
  }, [] { return std::string("shape"); });
}

Napi::Value Dtype(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value { return Napi::String::New(env, dtypeName(tensorOf(info[0]).scalar_type())); },
                 [] { return std::string("dtype"); });
}

Napi::Value Device(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value { return Napi::String::New(env, tensorOf(info[0]).device().str()); },
                 [] { return std::string("device"); });
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsExternal()) throw ArgError("expected a tensor handle");
    release(env, info[0].As<Napi::External<Box>>().Data());  // freeing twice is harmless
    return env.Undefined();
  }, [] { return std::string("free"); });
}

Napi::Value IsFreed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !info[0].As<Napi::External<Box>>().Data()->t.defined());
}

// ---------------------------------------------------------------------------
// Autograd

std::vector<at::Tensor> tensorList(const Napi::Value& v) {
  std::vector<at::Tensor> out;
  if (v.IsNull() || v.IsUndefined()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(tensorOf(a.Get(i)));
  return out;
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    boxOf(info[0])->t.set_requires_grad(info[1].As<Napi::Boolean>().Value());
    return env.Undefined();
  }, [&] { return "setRequiresGrad(" + describeArg(info[0]) + ")"; });
}

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value { return Napi::Boolean::New(env, tensorOf(info[0]).requires_grad()); },
                 [] { return std::string("requiresGrad"); });
}

// gradOf(t) -> the accumulated .grad of a leaf, or null.
Napi::Value GradOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const at::Tensor& g = tensorOf(info[0]).grad();
    return g.defined() ? wrap(env, g) : env.Null();
  }, [] { return std::string("gradOf"); });
}

// setGrad(t, g | null): replace (or clear) the accumulated .grad.
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    at::Tensor& t = boxOf(info[0])->t;
    if (info[1].IsNull() || info[1].IsUndefined()) t.mutable_grad().reset();
    else t.mutable_grad() = tensorOf(info[1]);
    return env.Undefined();
  }, [] { return std::string("setGrad"); });
}

// grad(outputs[], inputs[], gradOutputs[]|null, retainGraph, createGraph, allowUnused) -> (Tensor|null)[]
Napi::Value Grad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto outputs = tensorList(info[0]);
    auto inputs = tensorList(info[1]);
    auto gradOutputs = tensorList(info[2]);
    bool retain = info[3].ToBoolean().Value();
    bool create = info[4].ToBoolean().Value();
    bool allowUnused = info[5].ToBoolean().Value();
    auto grads = torch::autograd::grad(outputs, inputs, gradOutputs, retain, create, allowUnused);
    Napi::Array a = Napi::Array::New(env, grads.size());
    for (size_t i = 0; i < grads.size(); i++)
      a.Set(static_cast<uint32_t>(i), grads[i].defined() ? wrap(env, grads[i]) : env.Null());
    return a;
  }, [&] { return "grad(outputs " + describeArg(info[0]) + ", inputs " + describeArg(info[1]) + ")"; });
}

// backward(outputs[], gradOutputs[]|null, retainGraph): accumulates into leaves' .grad.
Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto outputs = tensorList(info[0]);
    auto gradOutputs = tensorList(info[1]);
    bool retain = info[2].ToBoolean().Value();
    torch::autograd::backward(outputs, gradOutputs, retain, false);
    return env.Undefined();
  }, [&] { return "backward(" + describeArg(info[0]) + ")"; });
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].As<Napi::Boolean>().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

// ---------------------------------------------------------------------------
// RNG, threads, devices, bookkeeping

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    torch::manual_seed(static_cast<uint64_t>(toInt(info[0], "seed")));
    return env.Undefined();
  }, [] { return std::string("manualSeed"); });
}

// rngState() -> Uint8Array with the default CPU generator's full state.
Napi::Value RngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto gen = at::detail::getDefaultCPUGenerator();
    at::Tensor state;
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      state = gen.get_state();
    }
    auto buf = Napi::Uint8Array::New(env, static_cast<size_t>(state.numel()));
    std::memcpy(buf.Data(), state.data_ptr(), static_cast<size_t>(state.numel()));
    return buf;
  }, [] { return std::string("rngState"); });
}

Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    Napi::Uint8Array buf = info[0].As<Napi::Uint8Array>();
    at::Tensor state = at::empty({static_cast<int64_t>(buf.ElementLength())}, at::kByte);
    std::memcpy(state.data_ptr(), buf.Data(), buf.ElementLength());
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
    return env.Undefined();
  }, [] { return std::string("setRngState"); });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    int64_t n = toInt(info[0], "threads");
    if (n < 1) throw ArgError("thread count must be >= 1");
    at::set_num_threads(static_cast<int>(n));
    return env.Undefined();
  }, [] { return std::string("setNumThreads"); });
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::hasCUDA() ? static_cast<double>(at::detail::getCUDAHooks().getNumGPUs()) : 0.0);
}

// setAllocatorCache(capBytes): bound of the caching allocator (0: no caching);
// cached blocks beyond the new bound are released at once.
Napi::Value SetAllocatorCache(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    double cap = info[0].As<Napi::Number>().DoubleValue();
    if (!(cap >= 0) || !std::isfinite(cap))
      throw std::invalid_argument("cache bound must be a finite number of bytes >= 0, got " + std::to_string(cap));
    BlockCache& c = blockCache();
    std::lock_guard<std::mutex> lock(c.mu);
    c.cap = static_cast<size_t>(cap);
    if (c.cachedBytes > c.cap) c.flushLocked();
    return env.Undefined();
  }, [] { return std::string("setAllocatorCache"); });
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("liveTensors", Napi::Number::New(env, static_cast<double>(g_live.load())));
  o.Set("externalBytes", Napi::Number::New(env, static_cast<double>(g_bytes.load())));
  o.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  BlockCache& c = blockCache();
  std::lock_guard<std::mutex> lock(c.mu);
  o.Set("cachedBytes", Napi::Number::New(env, static_cast<double>(c.cachedBytes)));
  o.Set("cacheCapBytes", Napi::Number::New(env, static_cast<double>(c.cap)));
  o.Set("cacheHits", Napi::Number::New(env, static_cast<double>(c.hits)));
  o.Set("cacheMisses", Napi::Number::New(env, static_cast<double>(c.misses)));
  return o;
}

Napi::Object InitCore(Napi::Env env, Napi::Object exports) {
  // Installed with the cache bound at 0 (plain allocation) until TypeScript sets one.
  c10::SetCPUAllocator(&g_cachingAllocator, /*priority=*/1);
  auto def = [&](const char* name, Napi::Function::Callback fn) { exports.Set(name, Napi::Function::New(env, fn, name)); };
  def("opId", OpId);
  def("opSchema", OpSchema);
  def("call", Call);
  def("fromArray", FromArray);
  def("toArray", ToArray);
  def("shape", Shape);
  def("dtype", Dtype);
  def("device", Device);
  def("free", Free);
  def("isFreed", IsFreed);
  def("setRequiresGrad", SetRequiresGrad);
  def("requiresGrad", RequiresGrad);
  def("gradOf", GradOf);
  def("setGrad", SetGrad);
  def("grad", Grad);
  def("backward", Backward);
  def("setGradEnabled", SetGradEnabled);
  def("isGradEnabled", IsGradEnabled);
  def("manualSeed", ManualSeed);
  def("rngState", RngState);
  def("setRngState", SetRngState);
  def("setNumThreads", SetNumThreads);
  def("getNumThreads", GetNumThreads);
  def("cudaDeviceCount", CudaDeviceCount);
  def("setAllocatorCache", SetAllocatorCache);
  def("stats", Stats);
  // the other native files (see carso.h, NATIVE_MODULE)
  for (const auto& add : extensions()) add(env, exports);
  return exports;
}

std::vector<Extension>& extensions() {
  static std::vector<Extension> all;
  return all;
}

}  // namespace carso

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) { return carso::InitCore(env, exports); }
}  // namespace

NODE_API_MODULE(carso, Init)
