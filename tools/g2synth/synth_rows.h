// g2synth's parallel producer: a tensor region generated in chunks of rows on every core of a
// WorkPool and written in order, the write of one chunk running next to the generation of the
// next. Values are a pure function of their index (synth_values.h), so the bytes are the same
// for any number of threads.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "libconvert/status.h"
#include "kernels/cpu/work_pool.h"

namespace g2::synth {

// Per-participant f32 scratch (WorkPool participant ids), kept across calls.
class Scratch {
 public:
  explicit Scratch(const WorkPool& pool) : bufs_(size_t(pool.max_participants())) {}
  std::vector<float>& at(int participant) { return bufs_[size_t(participant)]; }

 private:
  std::vector<std::vector<float>> bufs_;
};

// make(r0, r1, out, participant): rows [r0, r1) of `rows`, each `row_bytes`, into out.
// write(bytes): the next bytes in row order. Chunks of ~8 MiB, two of them in memory.
Status write_rows(WorkPool& pool, int64_t rows, uint64_t row_bytes,
                  const std::function<void(int64_t r0, int64_t r1, uint8_t* out, int participant)>& make,
                  const std::function<Status(std::span<const uint8_t>)>& write);

}  // namespace g2::synth
