// Reading a rectangle of a 2-D source tensor with pread/preadv from its files, for the
// executor's plain byte copies (reshards). Going through the mapping instead made every
// source page the copy touched count in the process's resident set until it was dropped, so
// peak RSS depended on how the worker threads interleaved (bench/NOTES.md "Peak RSS"), and a
// column slice of side-by-side pieces faulted in the whole width of every row.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libconvert/source/source.h"
#include "libconvert/status.h"

namespace g2 {

class PieceReader {
 public:
  explicit PieceReader(const SourceTensor& t) : t_(t) {}
  ~PieceReader();
  PieceReader(const PieceReader&) = delete;
  PieceReader& operator=(const PieceReader&) = delete;

  // Read rows [r0, r1) x columns [c0, c1) of the logical tensor into `out` (row-major,
  // c1 - c0 wide, rows < the tensor's rows; a vector [n] is one row, a scalar [1, 1]).
  // Returns false without reading anything when the tensor has more than 2 dimensions, or when
  // the rectangle would need narrow strided reads (one syscall per few bytes), which the
  // mapping serves better.
  Expected<bool> read(int64_t r0, int64_t r1, int64_t c0, int64_t c1, uint8_t* out);

 private:
  Expected<int> fd(const std::string& file);
  const SourceTensor& t_;
  std::map<std::string, int> fds_;
};

// The bytes of rows [r0, r1) x columns [c0, c1) as at most one contiguous range of mapped
// source bytes per piece, in output order, when they are laid out that way (whole rows of
// pieces stacked on axis 0, or all of one piece's columns of pieces side by side); nullopt
// otherwise. A plain copy writes these ranges straight from the mapping: no staging copy.
std::optional<std::vector<std::span<const uint8_t>>> contiguous_spans(const SourceTensor& t, int64_t r0, int64_t r1,
                                                                      int64_t c0, int64_t c1);

}  // namespace g2
