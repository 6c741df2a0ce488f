// kernels/cpu/attention_rows: the vectorised CPU loop must equal the shared scalar
// attention_query bit for bit, for every window length (vector remainders included), head
// size, softcap/temperature and bf16 rounding flag, with K/V rows strided as in the backend.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/attention_rows.h"
#include "kernels/ops/attention.h"

namespace g2 {
namespace {

TEST(AttentionRows, EqualsTheScalarQueryBitForBit) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.5f);
  for (int d : {1, 5, 16, 64, 128}) {
    const int T = 67, kv_heads = 3, stride = kv_heads * d;  // rows of K and V: [token][kv head][d]
    std::vector<float> q(static_cast<size_t>(d)), k(static_cast<size_t>(T * stride)),
        v(static_cast<size_t>(T * stride));
    for (auto& x : q) x = nd(rng);
    for (auto& x : k) x = nd(rng);
    for (auto& x : v) x = nd(rng);
    k[size_t(3) * stride] = -0.0f;  // a signed zero term: both loops start their sums from 0.0f
    for (int kh = 0; kh < kv_heads; ++kh) {
      std::vector<float> kt(static_cast<size_t>(d * T));  // kt[i][j] = k[j][kh][i]
      for (int j = 0; j < T; ++j)
        for (int i = 0; i < d; ++i) kt[size_t(i) * T + j] = k[size_t(j) * stride + size_t(kh) * d + i];
      for (int n : {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 66, 67})
        for (int flags = 0; flags < 4; ++flags)
          for (float cap : {0.0f, 30.0f}) {
            const bool rs = flags & 1, rp = flags & 2;
            const float scale = 0.125f, temp = n > 40 ? 1.0625f : 1.0f;
            std::vector<float> s1(static_cast<size_t>(n)), s2(static_cast<size_t>(n)), o1(static_cast<size_t>(d)),
                o2(static_cast<size_t>(d));
            attention_query(q.data(), k.data() + size_t(kh) * d, stride, v.data() + size_t(kh) * d, stride, n, d, scale,
                            cap, temp, rs, rp, s1.data(), o1.data());
            attention_query_keys_major(q.data(), kt.data(), T, v.data() + size_t(kh) * d, stride, n, d, scale, cap,
                                       temp, rs, rp, s2.data(), o2.data());
            ASSERT_EQ(0, std::memcmp(o1.data(), o2.data(), o1.size() * sizeof(float)))
                << "d " << d << " kv head " << kh << " keys " << n << " flags " << flags << " cap " << cap;
          }
    }
  }
}

}  // namespace
}  // namespace g2
