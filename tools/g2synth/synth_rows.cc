#include "tools/g2synth/synth_rows.h"

#include <algorithm>
#include <optional>

namespace g2::synth {

Status write_rows(WorkPool& pool, int64_t rows, uint64_t row_bytes,
                  const std::function<void(int64_t, int64_t, uint8_t*, int)>& make,
                  const std::function<Status(std::span<const uint8_t>)>& write) {
  constexpr uint64_t kChunkBytes = uint64_t(8) << 20;
  const int64_t chunk =
      std::clamp<int64_t>(int64_t(kChunkBytes / std::max<uint64_t>(row_bytes, 1)), 1, std::max<int64_t>(rows, 1));
  // Parts per chunk: several per thread, so an unlucky slow part does not hold the chunk up.
  const int64_t parts = std::min<int64_t>(chunk, 4 * pool.max_participants());
  std::vector<uint8_t> buf[2];
  std::optional<Status> failed;
  int64_t pending = -1;  // start row of the generated chunk not yet written (in buf[(pending / chunk) % 2])
  auto pending_bytes = [&](int64_t r0) {
    return std::span<const uint8_t>(buf[size_t(r0 / chunk % 2)].data(),
                                    uint64_t(std::min(rows, r0 + chunk) - r0) * row_bytes);
  };
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t r1 = std::min(rows, r0 + chunk), n = r1 - r0;
    std::vector<uint8_t>& out = buf[size_t(r0 / chunk % 2)];
    out.resize(size_t(uint64_t(chunk) * row_bytes));
    const int64_t p = std::min(parts, n);
    const int64_t prev = pending;
    // part 0 writes the previous chunk (if any) while the others generate this one
    pool.run(int(p + 1), [&](int part, int participant) {
      if (part == 0) {
        if (prev >= 0) {
          Status st = write(pending_bytes(prev));
          if (!st.ok()) failed = st;
        }
        return;
      }
      const int64_t a = r0 + n * (part - 1) / p, b = r0 + n * part / p;
      if (a < b) make(a, b, out.data() + uint64_t(a - r0) * row_bytes, participant);
    });
    if (failed) return *failed;
    pending = r0;
  }
  if (pending >= 0) G2_TRY(write(pending_bytes(pending)));
  return Status::Ok();
}

}  // namespace g2::synth
