// The logical 2-D tensor of a recipe (plan.h), read from the source in rectangles: the
// executor's read side. Every read method is const and takes the caller's ReadScratch, so
// several threads can read disjoint parts of one tensor at once (the row-chunk parallelism of
// execute_tensor.cc); only release() and the source's page drops touch shared state, and
// those are plain madvise calls.
#pragma once
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libconvert/plan/plan.h"
#include "libconvert/quant/quant.h"
#include "libconvert/source/source.h"
#include "libconvert/source/source_pread.h"

namespace g2 {

// One thread's read buffers for one tensor.
struct ReadScratch {
  std::vector<uint8_t> raw, rowbuf;  // staged source bytes
  std::vector<uint16_t> tile;        // transposed bf16 reads: decoded source rows
  std::unique_ptr<PieceReader> pread;
  const SourceTensor* pread_for = nullptr;  // the tensor `pread` was opened for
};

class LogicalReader {
 public:
  LogicalReader(const TensorSource& src, const Recipe& r) : src_(src), r_(r) {}
  ~LogicalReader();
  LogicalReader(const LogicalReader&) = delete;
  LogicalReader& operator=(const LogicalReader&) = delete;

  Status init();

  // The file holding `tensor` (its first piece), else the source directory, for messages.
  static std::string where(const TensorSource& src, const std::string& tensor);
  static Expected<Fp8Scales> load_source_fp8_scales(const TensorSource& src, const Recipe& r);

  // Source bytes of [r0, r1) x [c0, c1) (rows past the source's vocab are zero).
  Status read_raw(int64_t r0, int64_t r1, int64_t c0, int64_t c1, uint8_t* out, ReadScratch& s) const;

  // [r0, r1) x [c0, c1) decoded to f32. A transposed read leaves the source pages it read
  // resident until release(), so that callers reading a chunk in narrow row ranges still drop
  // each page once, whole (see drop_whole_pages); other reads drop their rows as they go.
  Status read_f32(int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* out, ReadScratch& s) const;

  // Whether read_bf16_transposed() serves this recipe: a transposed Grok-1 int8 weight, whose
  // values are bf16 exactly (grok1_dequantize), so a BF16 output needs no f32 pass.
  bool bf16_transposed() const { return r_.transpose && r_.decode == Decode::Grok1Int8; }
  // Rows [r0, r1) x columns [k0, k1) of such a weight as bf16 bits into `out` (row stride
  // `ld` elements). Source row k's run [r0, r1) is read whole (pread when the source's pieces
  // are in files: nothing mapped, so the resident set does not grow with the source), decoded
  // contiguously, then transposed in 64 x 64 tiles. Same bits as read_f32 + BF16 encode.
  Status read_bf16_transposed(int64_t r0, int64_t r1, int64_t k0, int64_t k1, uint16_t* out, int64_t ld,
                              ReadScratch& s) const;

  // [r0, r1) x [c0, c1) as contiguous ranges of the source's own bytes (source_pread.h), when
  // they are laid out so and need no zero padding.
  std::optional<std::vector<std::span<const uint8_t>>> spans(int64_t r0, int64_t r1, int64_t c0, int64_t c1) const;

  // Drops the source pages a transposed read_f32 of [r0, r1) x [c0, c1) has fully consumed:
  // one call per source row (k = c), over its run n in [r0, r1). No-op for other reads.
  void release(int64_t r0, int64_t r1, int64_t c0, int64_t c1) const;

  // Bytes of one full logical row as read (for chunk sizing).
  uint64_t row_read_bytes() const { return uint64_t(r_.transpose ? K_ : src_cols_) * es_; }

 private:
  void read_transposed(int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* out) const;
  // Decodes [r0, r1) x [c0, c1) (rows < src_rows) of a float source in several 2-D pieces
  // straight from their mappings; false when the pieces are not laid out for it.
  bool decode_pieces(int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* out) const;
  void drop_piece_rows(int64_t r0, int64_t r1) const;

  const TensorSource& src_;
  const Recipe& r_;
  const SourceTensor* t_ = nullptr;
  const uint8_t* base_ = nullptr;  // single-piece payload (expert applied when transposed)
  uint32_t es_ = 1;
  int64_t K_ = 0, N_ = 0, src_cols_ = 1;
  int groups_ = 1;
  std::vector<uint16_t> g1_scales_;  // [G, N] bf16 bits of this expert
  Fp8Scales fp8_;
  int fd_ = -1;              // transposed source's file, for pread (-1: read the mapping)
  uint64_t file_base_ = 0;   // file offset of base_
};

}  // namespace g2
