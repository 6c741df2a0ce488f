// Producing one planned tensor's bytes in row chunks (the executor's inner loop): decoding
// source rows to f32 or raw bytes, FP8 scales shared between the shards of a logical tensor,
// and error statistics. A chunk's decode and encode is split into parts run on a WorkPool,
// so every core works on one large tensor; the bytes, and the error statistics, are the same
// for any number of threads (parts are fixed by the chunk geometry, merged in part order).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>

#include "libconvert/source/logical_reader.h"
#include "libconvert/plan/plan.h"
#include "libconvert/quant/quant.h"
#include "libconvert/source/source.h"
#include "kernels/cpu/work_pool.h"

namespace g2 {

// One thread's buffers for the parts of a chunk: a stage of decoded rows and its round trip
// (lossy encodes), and the read buffers.
struct StageScratch {
  std::vector<float> vals, back;
  ReadScratch read;
};

// A worker's chunk buffers, kept across its tensors: reallocating them per tensor let the
// allocator keep freed blocks around and the peak RSS drift with the tensor order. `stages`
// has one entry per WorkPool participant: helpers running this worker's parts use the
// worker's entry for their participant id.
struct ChunkScratch {
  std::vector<uint8_t> out;  // encoded output rows
  std::vector<StageScratch> stages;
};

// FP8 scales of logical tensors, computed once and shared by every shard that needs them,
// dropped when the last user is done (so the cache never holds more than in-flight tensors).
class ScaleCache {
 public:
  explicit ScaleCache(const Plan& plan);
  // The scales of `r.logical` (computed from the source in chunks of `chunk_bytes`, their
  // parts on `pool` with the calling worker's scratch, or read from the source's scale
  // tensor for raw FP8 copies).
  Expected<std::shared_ptr<const Fp8Scales>> get(const TensorSource& src, const Recipe& r, uint64_t chunk_bytes,
                                                 ChunkScratch& scratch, WorkPool& pool);
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
// Shards are merged in the order of their place in the logical tensor (`begin` along the split
// axis), not in the order threads finish them, so the report is the same for any --threads
// (the sums differ in their last bits with the order).
class QuantStats {
 public:
  void add(const std::string& logical, const std::string& what, int64_t begin, const QuantError& e);
  std::vector<std::pair<std::string, std::pair<std::string, QuantError>>> take();

 private:
  std::mutex mu_;
  // logical -> (what, begin -> each shard's error; replicated shards share a begin)
  std::map<std::string, std::pair<std::string, std::map<int64_t, std::vector<QuantError>>>> m_;
};

struct TensorJob {
  const TensorSource& src;
  const PlannedTensor& t;
  ScaleCache& scales;
  QuantStats& stats;
  uint64_t chunk_bytes;   // scratch budget for this job
  ChunkScratch& scratch;  // reused by the same thread's next job
  WorkPool& pool;         // runs the parts of each chunk
};

// Streams the tensor's bytes to `sink` in order (chunks of at most ~chunk_bytes).
Status produce_tensor(const TensorJob& job, const std::function<Status(std::span<const uint8_t>)>& sink);

}  // namespace g2
