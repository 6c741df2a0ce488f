// Double-buffered layer streaming on a device (label gpu): every layer's planned bytes land
// at their offsets, through the acquire/release/prefetch pipeline, and the protocol is
// enforced.
#include <cuda_runtime.h>

#include <cstring>

#include "kernels/cuda/check.h"
#include "libconvert/layout/layout.h"
#include "libmodel/cuda/layer_streamer.h"
#include "tests/gpu/gpu_util.h"
#include "tests/libmodel/model_fixtures.h"

namespace g2 {
namespace {

// Deterministic content for (layer, slice, byte).
uint8_t pattern(int layer, size_t slice, uint64_t i) { return uint8_t(layer * 31 + slice * 7 + i * 13); }

TEST(LayerStreamer, PipelineDeliversEveryLayersRoutedSlices) {
  G2_REQUIRE_GPU();
  ModelConfig c = testing::tiny_config(true);
  c.num_hidden_layers = 5;
  const auto layout = grok2_layout(c);
  auto cap = max_layer_buffer_bytes(layout, c, 1, 0);
  ASSERT_TRUE(cap.ok()) << cap.message();
  cudaStream_t compute;
  G2_CUDA_CHECK(cudaStreamCreate(&compute));
  {
    auto st = LayerStreamer::create(*cap, compute);
    ASSERT_TRUE(st.ok()) << st.message();
    std::vector<LayerBufferPlan> plans;
    for (int l = 0; l < c.num_hidden_layers; ++l) {
      const std::vector<int> routed = {l % 4, (l + 2) % 4};
      auto p = plan_layer_buffer(layout, c, l, routed, 1, 0);
      ASSERT_TRUE(p.ok()) << p.message();
      plans.push_back(*p);
    }
    auto fill = [&](const StreamSlice& s, void* dst) -> Status {
      const LayerBufferPlan& p = plans[size_t(s.spec->layer)];
      const size_t idx = size_t(&s - p.slices.data());
      auto* d = static_cast<uint8_t*>(dst);
      for (uint64_t i = 0; i < s.bytes; ++i) d[i] = pattern(s.spec->layer, idx, i);
      return Status::Ok();
    };
    ASSERT_TRUE((*st)->prefetch(plans[0], fill).ok());
    for (int l = 0; l < c.num_hidden_layers; ++l) {
      auto base = (*st)->acquire(l);
      ASSERT_TRUE(base.ok()) << base.message();
      // "compute": read the layer back on the compute stream
      std::vector<uint8_t> host(plans[size_t(l)].total_bytes);
      G2_CUDA_CHECK(cudaMemcpyAsync(host.data(), *base, host.size(), cudaMemcpyDeviceToHost, compute));
      (*st)->release(l);
      if (l + 1 < c.num_hidden_layers) {
        ASSERT_TRUE((*st)->prefetch(plans[size_t(l + 1)], fill).ok());
      }
      G2_CUDA_CHECK(cudaStreamSynchronize(compute));
      for (size_t si = 0; si < plans[size_t(l)].slices.size(); ++si) {
        const StreamSlice& s = plans[size_t(l)].slices[si];
        for (uint64_t i = 0; i < s.bytes; i += 97)
          ASSERT_EQ(host[s.dst_offset + i], pattern(l, si, i)) << l << " " << si;
      }
    }
    // protocol: a layer that was never prefetched cannot be acquired
    EXPECT_FALSE((*st)->acquire(99).ok());
  }
  cudaStreamDestroy(compute);
}

}  // namespace
}  // namespace g2
