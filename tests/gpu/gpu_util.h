// Helpers for the device tests (label `gpu`): skip without a device, random inputs, and
// device <-> host round trips through a Backend.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "libmodel/backend.h"
#include "libmodel/compare.h"
#include "libmodel/cuda/cuda_backend.h"

namespace g2::gputest {

#define G2_REQUIRE_GPU()                                           \
  do {                                                             \
    if (::g2::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << ::g2::cuda_unavailable_reason(); \
  } while (0)

inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// The same input on both backends.
struct Pair {
  BackendBuffer cpu, gpu;
};
inline Pair both(Backend& c, Backend& g, const std::vector<float>& host) {
  Pair p{c.alloc(host.size()), g.alloc(host.size())};
  c.upload(p.cpu.data(), host.data(), host.size());
  g.upload(p.gpu.data(), host.data(), host.size());
  return p;
}
inline std::vector<float> fetch(Backend& b, const BackendBuffer& buf) {
  std::vector<float> out(buf.size());
  b.download(out.data(), buf.data(), buf.size());
  return out;
}

// f32 on both sides; only summation order and device transcendental ulps may differ.
inline Tolerance close_f32(double rel_rms = 1e-5) {
  Tolerance t;
  t.name = "gpu-vs-cpu";
  t.elementwise = true;
  t.atol = 1e-5;
  t.rtol = 1e-4;
  t.max_rel_rms = rel_rms;
  return t;
}

inline void expect_close(const std::vector<float>& got, const std::vector<float>& ref, const Tolerance& t,
                         const char* what) {
  const CompareResult r = compare(got, ref, t);
  EXPECT_TRUE(r.pass) << what << ": max_abs " << r.max_abs << " rel_rms " << r.rel_rms << " worst @" << r.worst_index
                      << " got " << r.worst_got << " ref " << r.worst_ref;
}

}  // namespace g2::gputest
