// The shared-math rule (docs/architecture.md "Rules the code keeps"): every CUDA kernel file takes its math from the
// kernels/ headers the CPU path uses, so no formula exists twice. Checked on the sources, so
// it runs on CPU-only CI machines: each kernels/cuda/<op>.cu
//   - has its launcher header <op>.cuh (one op per file pair),
//   - includes at least one shared-math header (kernels/codecs.h or kernels/ops/*.h),
//   - calls no transcendental / rounding math directly (exp, tanh, erf, pow, log, sqrt,
//     cos, sin, rint...): those live in G2_HD functions only.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Comments may mention formulas; only code counts.
std::string strip_comments(const std::string& s) {
  static const std::regex line(R"(//[^\n]*)"), block(R"(/\*[\s\S]*?\*/)");
  return std::regex_replace(std::regex_replace(s, block, ""), line, "");
}

std::vector<fs::path> cuda_sources() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(G2_SOURCE_DIR) / "kernels" / "cuda"))
    if (e.path().extension() == ".cu") out.push_back(e.path());
  return out;
}

bool includes_shared_math(const std::string& code) {
  static const std::regex inc(R"re(#include\s+"kernels/(codecs\.h|ops/[a-z_]+\.h)")re");
  return std::regex_search(code, inc);
}

// A direct call of a math function a formula would need.
std::string forbidden_math_call(const std::string& code) {
  static const std::regex call(
      R"(\b(__)?(exp|expf|exp2f|expm1f|tanh|tanhf|erf|erff|pow|powf|log|logf|log2|log2f|sqrt|sqrtf|rsqrtf|)"
      R"(cos|cosf|sin|sinf|__cosf|__sinf|rintf|nearbyintf)\s*\()");
  std::smatch m;
  return std::regex_search(code, m, call) ? m.str(0) : std::string();
}

TEST(SharedMathRule, EveryKernelFileIncludesSharedMathAndHasALauncherHeader) {
  const auto srcs = cuda_sources();
  ASSERT_GE(srcs.size(), 8u) << "expected the kernels/cuda/*.cu files";
  for (const auto& p : srcs) {
    const std::string code = strip_comments(read_all(p));
    EXPECT_TRUE(includes_shared_math(code)) << p << " includes no kernels/codecs.h or kernels/ops/*.h";
    fs::path header = p;
    header.replace_extension(".cuh");
    EXPECT_TRUE(fs::exists(header)) << p << " has no launcher header " << header;
  }
}

TEST(SharedMathRule, NoKernelFileComputesAFormulaItself) {
  for (const auto& p : cuda_sources()) {
    const std::string code = strip_comments(read_all(p));
    EXPECT_EQ(forbidden_math_call(code), "") << p << " calls math directly; put it in a G2_HD function";
  }
}

// The checker itself must be able to fail.
TEST(SharedMathRule, CheckerDetectsViolations) {
  EXPECT_FALSE(includes_shared_math("#include \"kernels/cuda/check.h\"\n"));
  EXPECT_TRUE(includes_shared_math("#include \"kernels/ops/rope.h\"\n"));
  EXPECT_EQ(forbidden_math_call("y = 30.f * tanhf(x / 30.f);"), "tanhf(");
  EXPECT_EQ(forbidden_math_call("y = __expf(x);"), "__expf(");
  EXPECT_EQ(forbidden_math_call(strip_comments("// tanhf(x) lives in activation.h\ny = softcap(x, c);")), "");
  EXPECT_EQ(forbidden_math_call("float a = fabsf(x);"), "");
}

}  // namespace
