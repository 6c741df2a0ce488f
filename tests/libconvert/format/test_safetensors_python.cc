// Interop with the reference implementation (Python `safetensors` + ml_dtypes): files we write
// load there with identical values, and files it writes load here. Skipped without G2_PYTHON.
#include <gtest/gtest.h>

#include <cstring>

#include "kernels/codecs.h"
#include "libconvert/format/safetensors.h"
#include "libconvert/format/safetensors_writer.h"
#include "tests/support/format_util.h"

namespace g2 {
namespace {

// Values every dtype represents exactly (quarter steps in [-2, 2]), so both sides can compare
// decoded values, not only bytes.
float value(size_t i) { return float(int(i % 17) - 8) * 0.25f; }

template <class Codec>
std::vector<uint8_t> encode(size_t n) {
  std::vector<uint8_t> out(n * sizeof(Codec));
  for (size_t i = 0; i < n; ++i) {
    Codec c = Codec::from_float(value(i));
    std::memcpy(out.data() + i * sizeof(Codec), &c, sizeof(Codec));
  }
  return out;
}

std::vector<uint8_t> encode_f32(size_t n) {
  std::vector<uint8_t> out(n * 4);
  for (size_t i = 0; i < n; ++i) {
    float f = value(i);
    std::memcpy(out.data() + i * 4, &f, 4);
  }
  return out;
}

// Decode the file's tensor `name` and compare with value(i); `py` says which numpy dtype.
const char* kPythonCheck = R"PY(
import sys, numpy as np, ml_dtypes, safetensors
path = sys.argv[1]
tensors = dict(safetensors.deserialize(open(path, "rb").read()))
np_dtype = {"F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
            "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2}
expect_shapes = {"f32": [3, 5], "f16": [17], "bf16": [4, 8], "e4m3": [2, 3, 5], "e5m2": [9], "scalar": [],
                 "empty": [0, 4]}
assert sorted(tensors) == sorted(expect_shapes), sorted(tensors)
for name, t in tensors.items():
    assert list(t["shape"]) == expect_shapes[name], (name, t["shape"])
    a = np.frombuffer(t["data"], dtype=np_dtype[t["dtype"]]).astype(np.float32)
    n = int(np.prod(t["shape"])) if t["shape"] else 1
    want = ((np.arange(n) % 17) - 8).astype(np.float32) * 0.25
    assert a.shape == (n,), (name, a.shape)
    assert np.array_equal(a, want), (name, a, want)
assert tensors["bf16"]["dtype"] == "BF16" and tensors["e4m3"]["dtype"] == "F8_E4M3"
from safetensors import safe_open
with safe_open(path, framework="numpy") as f:
    assert f.metadata() == {"format": "pt", "note": "g2kit"}, f.metadata()
print("python: ok")
)PY";

TEST(SafetensorsPython, PythonReadsWhatWeWrite) {
  const std::string py = test::interop_python();
  if (py.empty()) GTEST_SKIP() << "G2_PYTHON with numpy+safetensors+ml_dtypes not available";
  test::TempDir dir;
  const auto f32 = encode_f32(15), scalar = encode_f32(1);
  const auto h16 = encode<f16>(17), b16 = encode<bf16>(32), e4 = encode<fp8_e4m3>(30), e5 = encode<fp8_e5m2>(9);
  const std::string path = dir / "ours.safetensors";
  ASSERT_TRUE(write_safetensors(path,
                                {{{"bf16", DType::BF16, {4, 8}}, b16.data()},
                                 {{"f32", DType::F32, {3, 5}}, f32.data()},
                                 {{"e4m3", DType::F8_E4M3, {2, 3, 5}}, e4.data()},
                                 {{"f16", DType::F16, {17}}, h16.data()},
                                 {{"e5m2", DType::F8_E5M2, {9}}, e5.data()},
                                 {{"scalar", DType::F32, {}}, scalar.data()},
                                 {{"empty", DType::BF16, {0, 4}}, nullptr}},
                                {{"format", "pt"}, {"note", "g2kit"}})
                  .ok());
  EXPECT_EQ(test::run_python(py, dir.str(), kPythonCheck, "'" + path + "'"), 0);
}

const char* kPythonWrite = R"PY(
import sys, numpy as np, ml_dtypes, safetensors
from safetensors.numpy import save_file
out = sys.argv[1]
def vals(n): return ((np.arange(n) % 17) - 8).astype(np.float32) * 0.25
raw, keep = {}, []
for name, dt, code, shape in [("w.bf16", ml_dtypes.bfloat16, "BF16", [6, 4]),
                              ("w.e4m3", ml_dtypes.float8_e4m3fn, "F8_E4M3", [3, 7]),
                              ("w.e5m2", ml_dtypes.float8_e5m2, "F8_E5M2", [5]),
                              ("w.f16", np.float16, "F16", [2, 2, 2]),
                              ("w.f32", np.float32, "F32", [11]),
                              ("w.scale", np.float32, "F32", [])]:
    n = int(np.prod(shape)) if shape else 1
    arr = np.ascontiguousarray(vals(n).astype(dt))
    keep.append(arr)
    if hasattr(safetensors, "TensorSpec"):  # safetensors >= 0.8 takes raw buffers as specs
        raw[name] = safetensors.TensorSpec(dtype=np.dtype(dt).name, shape=shape, data_ptr=arr.ctypes.data,
                                           data_len=arr.nbytes)
    else:
        raw[name] = {"dtype": code, "shape": shape, "data": arr.tobytes()}
safetensors.serialize_file(raw, out + "/py_raw.safetensors", metadata={"who": "python"})
save_file({"ids": np.arange(10, dtype=np.int64) - 3, "mask": np.arange(6) % 2 == 0,
           "i8": (np.arange(12, dtype=np.int8) - 6).reshape(3, 4)}, out + "/py_numpy.safetensors")
)PY";

template <class Codec>
void expect_values(const SafetensorsFile& f, const char* name, DType dt, Shape shape) {
  const auto* e = f.find(name);
  ASSERT_NE(e, nullptr) << name;
  EXPECT_EQ(e->dtype, dt) << name;
  EXPECT_EQ(e->shape, shape) << name;
  auto bytes = f.bytes(*e);
  const size_t n = bytes.size() / sizeof(Codec);
  for (size_t i = 0; i < n; ++i) {
    Codec c;
    std::memcpy(&c, bytes.data() + i * sizeof(Codec), sizeof(Codec));
    float got;
    if constexpr (std::is_same_v<Codec, float>) got = c;
    else got = c.to_float();
    ASSERT_EQ(got, value(i)) << name << "[" << i << "]";
  }
}

TEST(SafetensorsPython, WeReadWhatPythonWrites) {
  const std::string py = test::interop_python();
  if (py.empty()) GTEST_SKIP() << "G2_PYTHON with numpy+safetensors+ml_dtypes not available";
  test::TempDir dir;
  ASSERT_EQ(test::run_python(py, dir.str(), kPythonWrite, "'" + dir.str() + "'"), 0);
  auto f = SafetensorsFile::open(dir / "py_raw.safetensors");
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->metadata().at("who"), "python");
  expect_values<bf16>(*f, "w.bf16", DType::BF16, {6, 4});
  expect_values<fp8_e4m3>(*f, "w.e4m3", DType::F8_E4M3, {3, 7});
  expect_values<fp8_e5m2>(*f, "w.e5m2", DType::F8_E5M2, {5});
  expect_values<f16>(*f, "w.f16", DType::F16, {2, 2, 2});
  expect_values<float>(*f, "w.f32", DType::F32, {11});
  expect_values<float>(*f, "w.scale", DType::F32, {});

  auto g = SafetensorsFile::open(dir / "py_numpy.safetensors");
  ASSERT_TRUE(g.ok()) << g.message();
  const auto* ids = g->find("ids");
  ASSERT_NE(ids, nullptr);
  EXPECT_EQ(ids->dtype, DType::I64);
  for (int i = 0; i < 10; ++i) {
    int64_t v;
    std::memcpy(&v, g->bytes(*ids).data() + 8 * i, 8);
    EXPECT_EQ(v, i - 3);
  }
  const auto* mask = g->find("mask");
  ASSERT_NE(mask, nullptr);
  EXPECT_EQ(mask->dtype, DType::BOOL);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(g->bytes(*mask)[size_t(i)], i % 2 == 0 ? 1 : 0);
  EXPECT_EQ(g->find("i8")->shape, (Shape{3, 4}));
  EXPECT_EQ(int8_t(g->bytes(*g->find("i8"))[0]), -6);
}

}  // namespace
}  // namespace g2
