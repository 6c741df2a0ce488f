// Producing one planned tensor's bytes in row chunks (the executor's inner loop): decoding
// source rows to f32 or raw bytes, FP8 scales shared between the shards of a logical tensor,
// and error statistics.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>

#include "libconvert/plan.h"
#include "libconvert/quant.h"
#include "libconvert/source.h"

namespace g2 {

// FP8 scales of logical tensors, computed once and shared by every shard that needs them,
// dropped when the last user is done (so the cache never holds more than in-flight tensors).
class ScaleCache {
 public:
  explicit ScaleCache(const Plan& plan);
  // The scales of `r.logical` (computed from the source with `chunk_bytes` of scratch in `buf`,
  // the calling worker's buffer, or read from the source's scale tensor for raw FP8 copies).
  Expected<std::shared_ptr<const Fp8Scales>> get(const TensorSource& src, const Recipe& r, uint64_t chunk_bytes,
                                                 std::vector<float>& buf);
  void done(const std::string& logical);  // one user finished

 private:
  struct Entry {
    std::once_flag once;
    std::shared_ptr<const Fp8Scales> scales;
    std::optional<Error> error;
    int users = 0;
  };
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
};

// Accumulates per-logical-tensor errors from all threads.
class QuantStats {
 public:
  void add(const std::string& logical, const std::string& what, const QuantError& e);
  std::vector<std::pair<std::string, std::pair<std::string, QuantError>>> take();

 private:
  std::mutex mu_;
  std::map<std::string, std::pair<std::string, QuantError>> m_;
};

// A worker's chunk buffers, kept across its tensors: reallocating them per tensor let the
// allocator keep freed blocks around and the peak RSS drift with the tensor order.
struct ChunkScratch {
  std::vector<uint8_t> out;         // encoded output rows
  std::vector<float> vals, back;    // decoded rows and their round trip (lossy encodes)
};

struct TensorJob {
  const TensorSource& src;
  const PlannedTensor& t;
  ScaleCache& scales;
  QuantStats& stats;
  uint64_t chunk_bytes;   // scratch budget for this job
  ChunkScratch& scratch;  // reused by the same thread's next job
};

// Streams the tensor's bytes to `sink` in order (chunks of at most ~chunk_bytes).
Status produce_tensor(const TensorJob& job, const std::function<Status(std::span<const uint8_t>)>& sink);

}  // namespace g2
