#include "libconvert/source/source_pread.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace g2 {

namespace {

// Below this, a row segment not contiguous with the next one in the file is read through the
// mapping: one pread per row would cost a syscall per few KiB.
constexpr uint64_t kMinStridedRead = uint64_t(64) << 10;

// preadv of the whole of `iov` from `off`, continuing after short reads.
Status preadv_all(int fd, std::vector<iovec>& iov, uint64_t off, const std::string& file) {
  size_t i = 0;
  while (i < iov.size()) {
    const int n = int(std::min<size_t>(iov.size() - i, IOV_MAX));
    const ssize_t got = ::preadv(fd, iov.data() + i, n, off_t(off));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return io_error(file + ": read failed at offset " + std::to_string(off) + ": " + std::strerror(errno));
    if (got == 0) return io_error(file + ": unexpected end of file at offset " + std::to_string(off) + " (truncated?)");
    off += uint64_t(got);
    size_t left = size_t(got);
    while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
    if (left > 0) {
      iov[i].iov_base = static_cast<uint8_t*>(iov[i].iov_base) + left;
      iov[i].iov_len -= left;
    }
  }
  return Status::Ok();
}

}  // namespace

PieceReader::~PieceReader() {
  for (auto& [file, fd] : fds_) ::close(fd);
}

Expected<int> PieceReader::fd(const std::string& file) {
  if (auto it = fds_.find(file); it != fds_.end()) return it->second;
  const int f = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (f < 0) return io_error(file + ": cannot open: " + std::strerror(errno));
  fds_[file] = f;
  return f;
}

Expected<bool> PieceReader::read(int64_t r0, int64_t r1, int64_t c0, int64_t c1, uint8_t* out) {
  const SourceTensor& t = t_;
  // A vector [n] (pieces side by side) or a scalar reads as one row: [1, n], [1, 1].
  const bool vec = t.shape.size() < 2;
  if (t.shape.size() > 2 || (!vec && t.concat_axis != 0 && t.concat_axis != 1 && t.pieces.size() > 1)) return false;
  const uint64_t es = dtype_size(t.dtype);
  const uint64_t w = uint64_t(c1 - c0) * es;  // output row bytes
  struct Part {
    const TensorPiece* p;
    int64_t row0, col0, rows, cols;  // the piece's place in the logical tensor
  };
  std::vector<Part> parts;
  int64_t at = 0;
  for (const auto& p : t.pieces) {
    if (p.view.shape.size() != t.shape.size() || !p.view.contiguous()) return false;
    const int64_t pr = vec ? 1 : p.view.shape[0],
                  pc = vec ? (p.view.shape.empty() ? 1 : p.view.shape[0]) : p.view.shape[1];
    const bool by_rows = !vec && (t.pieces.size() == 1 || t.concat_axis == 0);
    parts.push_back({&p, by_rows ? at : 0, by_rows ? 0 : at, pr, pc});
    at += by_rows ? pr : pc;
  }
  // Check first, so a refused rectangle reads nothing.
  for (const auto& q : parts) {
    const int64_t lo = std::max(c0, q.col0), hi = std::min(c1, q.col0 + q.cols);
    const int64_t rlo = std::max(r0, q.row0), rhi = std::min(r1, q.row0 + q.rows);
    if (lo >= hi || rlo >= rhi) continue;
    const bool whole_rows = lo == q.col0 && hi == q.col0 + q.cols;
    if (!whole_rows && rhi - rlo > 1 && uint64_t(hi - lo) * es < kMinStridedRead) return false;
  }
  std::vector<iovec> iov;
  for (const auto& q : parts) {
    const int64_t lo = std::max(c0, q.col0), hi = std::min(c1, q.col0 + q.cols);
    const int64_t rlo = std::max(r0, q.row0), rhi = std::min(r1, q.row0 + q.rows);
    if (lo >= hi || rlo >= rhi) continue;
    auto f = fd(q.p->file);
    if (!f) return f.error();
    const uint64_t src_row = uint64_t(q.cols) * es, seg = uint64_t(hi - lo) * es;
    const uint64_t first = q.p->file_offset + (uint64_t(rlo - q.row0) * src_row) + uint64_t(lo - q.col0) * es;
    auto dst = [&](int64_t r) { return out + uint64_t(r - r0) * w + uint64_t(lo - c0) * es; };
    if (seg == src_row) {
      // whole source rows: one contiguous file range, scattered into the output's rows
      // (a single buffer when the output rows are contiguous too)
      iov.clear();
      for (int64_t r = rlo; r < rhi; ++r) {
        uint8_t* d = dst(r);
        if (!iov.empty() && static_cast<uint8_t*>(iov.back().iov_base) + iov.back().iov_len == d)
          iov.back().iov_len += seg;
        else iov.push_back({d, seg});
      }
      G2_TRY(preadv_all(*f, iov, first, q.p->file));
    } else {
      for (int64_t r = rlo; r < rhi; ++r) {
        iov.assign(1, {dst(r), seg});
        G2_TRY(preadv_all(*f, iov, first + uint64_t(r - rlo) * src_row, q.p->file));
      }
    }
  }
  return true;
}

std::optional<std::vector<std::span<const uint8_t>>> contiguous_spans(const SourceTensor& t, int64_t r0, int64_t r1,
                                                                      int64_t c0, int64_t c1) {
  if (t.shape.size() != 2 || r0 >= r1 || c0 >= c1) return std::nullopt;
  const uint64_t es = dtype_size(t.dtype);
  const bool by_rows = t.pieces.size() == 1 || t.concat_axis == 0;
  std::vector<std::span<const uint8_t>> out;
  int64_t at = 0;
  for (const auto& p : t.pieces) {
    if (p.view.shape.size() != 2 || !p.view.contiguous() || !p.view.data) return std::nullopt;
    const int64_t pr = p.view.shape[0], pc = p.view.shape[1];
    const auto* base = p.view.as<const uint8_t>();
    const uint64_t row = uint64_t(pc) * es;
    if (by_rows) {
      const int64_t lo = std::max(r0, at), hi = std::min(r1, at + pr);
      if (lo < hi) {
        if (c0 != 0 || c1 != pc) return std::nullopt;  // a column slice of every row
        out.emplace_back(base + uint64_t(lo - at) * row, uint64_t(hi - lo) * row);
      }
      at += pr;
    } else {
      const int64_t lo = std::max(c0, at), hi = std::min(c1, at + pc);
      if (lo < hi) {
        if (lo != at || hi != at + pc || c0 != at || c1 != at + pc) return std::nullopt;  // rows interleave pieces
        if (r1 > pr) return std::nullopt;
        out.emplace_back(base + uint64_t(r0) * row, uint64_t(r1 - r0) * row);
      }
      at += pc;
    }
  }
  if (out.empty()) return std::nullopt;
  return out;
}

}  // namespace g2
