// Pickle interop with Python: files Python writes (protocols 2-5, numpy.core and numpy._core
// module names, ndarray and QuantizedWeight8bit, bf16 via ml_dtypes) load in g2kit with
// identical bytes; files g2kit writes load in Python with identical values and are
// byte-identical to what Python's pickle.dumps(protocol=4) writes for the same objects.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "kernels/codecs.h"
#include "libconvert/format/pickle_reader.h"
#include "libconvert/format/pickle_writer.h"
#include "tests/support/jax_util.h"

namespace g2 {
namespace {

using test::ScratchDir;

// Writes pickles of several objects for every protocol and both numpy module spellings,
// plus each array's raw bytes and a manifest.
const char* kPyWrite = R"PY(
import json, os, pickle, sys
import numpy as np, ml_dtypes
from dataclasses import dataclass

@dataclass
class QuantizedWeight8bit:
    weight: object
    scales: object

class CorePickler(pickle._Pickler):
    """Names numpy's private modules numpy.core.* like numpy 1.x (and the Grok-1 release)."""
    def save_global(self, obj, name=None):
        mod = getattr(obj, "__module__", "") or ""
        if mod.startswith("numpy._core."):
            name = name or obj.__qualname__
            mod = "numpy.core." + mod[len("numpy._core."):]
            if self.proto >= 4:
                self.save(mod); self.save(name); self.write(pickle.STACK_GLOBAL)
            else:
                self.write(pickle.GLOBAL + bytes(mod + "\n" + name + "\n", "utf-8"))
            self.memoize(obj)
            return
        super().save_global(obj, name)

out = sys.argv[1]
rng = np.random.default_rng(7)
objs = {
    "f32": rng.standard_normal((3, 5)).astype(np.float32),
    "scalar": np.array(2.5, dtype=np.float32),
    "i32_4d": np.arange(12, dtype=np.int32).reshape(2, 3, 1, 2) - 5,
    "bf16": rng.standard_normal(7).astype(ml_dtypes.bfloat16),
    "big": rng.standard_normal(20000).astype(np.float32),
    "qw8": QuantizedWeight8bit(rng.integers(-127, 128, (4, 6)).astype(np.int8),
                               rng.random((1, 6)).astype(ml_dtypes.bfloat16)),
    "qw8_big": QuantizedWeight8bit(rng.integers(-127, 128, (2, 300, 128)).astype(np.int8),
                                   rng.random((2, 8, 128)).astype(ml_dtypes.bfloat16)),
}
names = {"f4": "F32", "i4": "I32", "i1": "I8", "bfloat16": "BF16"}
manifest = []
for key, obj in objs.items():
    arrays = [obj.weight, obj.scales] if isinstance(obj, QuantizedWeight8bit) else [obj]
    raws = []
    for k, a in enumerate(arrays):
        raw = f"{key}.{k}.bin"
        with open(os.path.join(out, raw), "wb") as f:
            f.write(a.tobytes())
        raws.append({"raw": raw, "dtype": names[a.dtype.name if a.dtype.name == "bfloat16" else a.dtype.str[1:]],
                     "shape": list(a.shape)})
    for proto in (2, 3, 4, 5):
        for style in ("native", "core"):
            fn = f"{key}_p{proto}_{style}.pkl"
            with open(os.path.join(out, fn), "wb") as f:
                if style == "native":
                    pickle.dump(obj, f, protocol=proto)
                else:
                    CorePickler(f, protocol=proto).dump(obj)
            manifest.append({"file": fn, "quantized": isinstance(obj, QuantizedWeight8bit), "arrays": raws})
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f)
)PY";

TEST(PickleInterop, ReadsWhatPythonWrites) {
  G2_NEED_PYTHON();
  ScratchDir dir("pyread");
  std::string log;
  ASSERT_EQ(test::run_python(dir, kPyWrite, {dir.path.string()}, &log), 0) << log;
  const auto manifest = nlohmann::json::parse(test::read_all(dir / "manifest.json"));
  ASSERT_GE(manifest.size(), 50u);
  for (const auto& m : manifest) {
    const std::string file = m["file"];
    SCOPED_TRACE(file);
    const auto bytes = test::read_all(dir / file);
    auto r = unpickle_tensor(bytes, file);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->quantized, bool(m["quantized"]));
    const PickledArray* got[2] = {&r->array, &r->scales};
    for (size_t k = 0; k < m["arrays"].size(); ++k) {
      const auto& want = m["arrays"][k];
      EXPECT_EQ(dtype_name(got[k]->dtype), std::string(want["dtype"]));
      EXPECT_EQ(got[k]->shape, want["shape"].get<Shape>());
      const auto raw = test::read_all(dir / std::string(want["raw"]));
      ASSERT_EQ(got[k]->nbytes, raw.size());
      EXPECT_EQ(std::memcmp(got[k]->data, raw.data(), raw.size()), 0);
      // Zero copy from protocol 3 on: the payload is a view into the file itself.
      if (r->protocol >= 3) {
        ASSERT_GE(got[k]->offset, 0);
        EXPECT_EQ(got[k]->data, bytes.data() + got[k]->offset);
      }
    }
  }
}

// Loads every g2kit-written file, checks values against the raw bytes, and re-pickles the
// loaded object with Python's default pickle.dump (protocol 4) to compare bytes.
const char* kPyCheck = R"PY(
import json, os, pickle, sys
import numpy as np, ml_dtypes
from dataclasses import dataclass

@dataclass
class QuantizedWeight8bit:
    weight: object
    scales: object

d = sys.argv[1]
manifest = json.load(open(os.path.join(d, "manifest.json")))
bad = 0
for m in manifest:
    with open(os.path.join(d, m["file"]), "rb") as f:
        data = f.read()
    obj = pickle.loads(data)
    arrays = [obj.weight, obj.scales] if m["quantized"] else [obj]
    if m["quantized"] != isinstance(obj, QuantizedWeight8bit):
        print(m["file"], "wrong type", type(obj)); bad += 1; continue
    for a, want in zip(arrays, m["arrays"]):
        raw = open(os.path.join(d, want["raw"]), "rb").read()
        dt = {"F32": np.float32, "BF16": ml_dtypes.bfloat16, "I8": np.int8, "I32": np.int32,
              "F64": np.float64, "F16": np.float16, "U8": np.uint8, "BOOL": np.bool_, "I64": np.int64,
              "I16": np.int16}[want["dtype"]]
        if a.dtype != np.dtype(dt) or list(a.shape) != want["shape"] or a.tobytes() != raw:
            print(m["file"], "value mismatch", a.dtype, a.shape); bad += 1
    if m["compare_bytes"] and pickle.dumps(obj, protocol=4) != data:
        print(m["file"], "bytes differ from pickle.dumps"); bad += 1
print("numpy", np.__version__, "checked", len(manifest))
sys.exit(1 if bad else 0)
)PY";

struct Case {
  std::string name;
  std::vector<HostTensor> arrays;  // one, or weight + scales
};

HostTensor filled(DType dt, Shape shape, uint32_t seed) {
  HostTensor t = HostTensor::make(dt, std::move(shape));
  auto* p = t.view.as<uint8_t>();
  uint32_t x = seed * 2654435761u + 1;
  for (uint64_t i = 0; i < t.view.nbytes(); ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = uint8_t(x >> 24);
  }
  if (dt == DType::BF16 || dt == DType::F32 || dt == DType::F16 || dt == DType::F64) {
    // keep floats finite so Python's equality of bytes is the only check needed
    for (uint64_t i = 0; i < t.view.numel(); ++i) {
      if (dt == DType::BF16) t.view.as<bf16>()[i] = bf16::from_float(float(int(i % 200) - 100) / 7.0f);
      if (dt == DType::F32) t.view.as<float>()[i] = float(int(i % 999) - 499) / 13.0f;
      if (dt == DType::F16) t.view.as<uint16_t>()[i] = f16::from_float(float(int(i % 99) - 49)).bits;
      if (dt == DType::F64) t.view.as<double>()[i] = double(i) * 0.25 - 3;
    }
  }
  if (dt == DType::BOOL)
    for (uint64_t i = 0; i < t.view.numel(); ++i) p[i] &= 1;
  return t;
}

std::vector<Case> writer_cases() {
  std::vector<Case> cs;
  auto one = [&](std::string n, DType dt, Shape s) {
    Case c{std::move(n), {}};
    c.arrays.push_back(filled(dt, std::move(s), uint32_t(cs.size())));
    cs.push_back(std::move(c));
  };
  auto qw = [&](std::string n, Shape w, Shape s) {
    Case c{std::move(n), {}};
    c.arrays.push_back(filled(DType::I8, std::move(w), uint32_t(cs.size())));
    c.arrays.push_back(filled(DType::BF16, std::move(s), uint32_t(cs.size() + 100)));
    cs.push_back(std::move(c));
  };
  one("f32", DType::F32, {3, 5});
  one("scalar", DType::F32, {});
  one("one_byte", DType::I8, {1});
  one("empty", DType::F32, {0, 4});
  one("f64", DType::F64, {2, 2});
  one("f16", DType::F16, {9});
  one("i64_5d", DType::I64, {1, 2, 1, 2, 3});
  one("u8_bigdim", DType::U8, {70000});
  one("bool", DType::BOOL, {300});
  one("bf16", DType::BF16, {384});
  one("dims", DType::I16, {1, 300, 70});
  one("frame_edge_lo", DType::I8, {65535});
  one("frame_edge_hi", DType::I8, {65536});
  one("embed_like", DType::F32, {1024, 96});
  qw("qw8", {4, 6}, {1, 6});
  qw("qw8_blocks", {3, 64, 48}, {3, 8, 48});
  qw("qw8_frame_after_weight", {65400}, {50});
  qw("qw8_frame_65000", {65000}, {300});
  qw("qw8_big_scales", {10}, {70000});
  qw("qw8_big", {8, 384, 256}, {8, 1, 256});
  return cs;
}

Status write_case(const Case& c, const std::string& path, NumpyModule numpy) {
  std::vector<uint8_t> out;
  ByteSink sink = [&](std::span<const uint8_t> b) {
    out.insert(out.end(), b.begin(), b.end());
    return Status::Ok();
  };
  Status st = c.arrays.size() == 1 ? pickle_array(sink, c.arrays[0].view, numpy)
                                   : pickle_quantized(sink, c.arrays[0].view, c.arrays[1].view, numpy);
  if (st.ok()) test::write_all(path, out);
  return st;
}

TEST(PickleInterop, PythonLoadsWhatWeWriteAndRepicklesIdentically) {
  G2_NEED_PYTHON();
  ScratchDir dir("pywrite");
  std::string ver;
  ASSERT_EQ(test::run_python(dir, "import numpy; print(numpy.__version__.split('.')[0])", {}, &ver), 0) << ver;
  const bool numpy2 = std::stoi(ver) >= 2;
  nlohmann::json manifest = nlohmann::json::array();
  for (const auto& c : writer_cases()) {
    for (NumpyModule mod : {NumpyModule::Core, NumpyModule::UnderscoreCore}) {
      // numpy 1.x cannot import numpy._core
      if (!numpy2 && mod == NumpyModule::UnderscoreCore) continue;
      const std::string file = c.name + (mod == NumpyModule::Core ? "_core.pkl" : "_ucore.pkl");
      ASSERT_TRUE(write_case(c, dir / file, mod).ok()) << file;
      nlohmann::json arrays = nlohmann::json::array();
      for (size_t k = 0; k < c.arrays.size(); ++k) {
        const auto& v = c.arrays[k].view;
        const std::string raw = c.name + "." + std::to_string(k) + ".bin";
        test::write_all(dir / raw, std::vector<uint8_t>(v.as<uint8_t>(), v.as<uint8_t>() + v.nbytes()));
        arrays.push_back({{"raw", raw}, {"dtype", std::string(dtype_name(v.dtype))}, {"shape", v.shape}});
      }
      // Python re-pickles with its own numpy's module name: compare bytes where they match.
      const bool same_names = (mod == NumpyModule::UnderscoreCore) == numpy2;
      manifest.push_back({{"file", file}, {"quantized", c.arrays.size() == 2}, {"arrays", arrays},
                          {"compare_bytes", same_names}});
    }
  }
  test::write_text(dir / "manifest.json", manifest.dump());
  std::string log;
  EXPECT_EQ(test::run_python(dir, kPyCheck, {dir.path.string()}, &log), 0) << log;
}

TEST(PickleInterop, WriteReadWriteIsBitExact) {
  ScratchDir dir("roundtrip");
  for (const auto& c : writer_cases()) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(write_case(c, dir / "a.pkl", NumpyModule::Core).ok());
    const auto a = test::read_all(dir / "a.pkl");
    auto r = unpickle_tensor(a, c.name);
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_EQ(r->quantized, c.arrays.size() == 2);
    // write again from what was read: identical bytes
    Case again{c.name, {}};
    for (const PickledArray* p : {&r->array, &r->scales}) {
      if (p == &r->scales && !r->quantized) break;
      HostTensor t = HostTensor::make(p->dtype, p->shape);
      if (p->nbytes) std::memcpy(t.view.data, p->data, p->nbytes);
      again.arrays.push_back(std::move(t));
    }
    ASSERT_TRUE(write_case(again, dir / "b.pkl", NumpyModule::Core).ok());
    EXPECT_EQ(a, test::read_all(dir / "b.pkl"));
  }
}

TEST(PickleWriter, StreamsPayloadInChunks) {
  const HostTensor w = filled(DType::I8, {4, 40000}, 3);
  const HostTensor s = filled(DType::BF16, {8, 40000}, 4);
  std::vector<uint8_t> whole, chunked;
  ByteSink a = [&](std::span<const uint8_t> b) { whole.insert(whole.end(), b.begin(), b.end()); return Status::Ok(); };
  ASSERT_TRUE(pickle_quantized(a, w.view, s.view).ok());
  size_t max_piece = 0;
  ByteSink b = [&](std::span<const uint8_t> x) {
    max_piece = std::max(max_piece, x.size());
    chunked.insert(chunked.end(), x.begin(), x.end());
    return Status::Ok();
  };
  PickleStreamWriter pw(b);
  ASSERT_TRUE(pw.begin_quantized().ok());
  for (const HostTensor* t : {&w, &s}) {
    ASSERT_TRUE(pw.begin_array(t->view.dtype, t->view.shape).ok());
    const auto* p = t->view.as<uint8_t>();
    for (uint64_t off = 0; off < t->view.nbytes(); off += 4096)
      ASSERT_TRUE(pw.write_payload({p + off, size_t(std::min<uint64_t>(4096, t->view.nbytes() - off))}).ok());
    EXPECT_FALSE(pw.finish().ok());  // not yet complete
    ASSERT_TRUE(pw.end_array().ok());
  }
  ASSERT_TRUE(pw.finish().ok());
  EXPECT_EQ(whole, chunked);
  EXPECT_LE(max_piece, 70000u);  // large payloads pass through in the caller's chunks
  EXPECT_EQ(pw.bytes_written(), chunked.size());
}

TEST(PickleWriter, RefusesMisuse) {
  ByteSink sink = [](std::span<const uint8_t>) { return Status::Ok(); };
  PickleStreamWriter w(sink);
  ASSERT_TRUE(w.begin_array(DType::F32, {2}).ok());
  EXPECT_FALSE(w.write_payload(std::vector<uint8_t>(9)).ok());  // more than 8 bytes
  EXPECT_FALSE(w.end_array().ok());                             // nothing written yet
  PickleStreamWriter fp8(sink);
  EXPECT_FALSE(fp8.begin_array(DType::F8_E4M3, {2}).ok());
}

}  // namespace
}  // namespace g2
