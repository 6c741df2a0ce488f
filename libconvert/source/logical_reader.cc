#include "libconvert/source/logical_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "kernels/ops/quant.h"
#include "libconvert/quant/float_runs.h"
#include "libconvert/source/page_drop.h"
#include "kernels/cpu/vector_clones.h"

namespace g2 {

namespace {

using u16x8 = uint16_t __attribute__((vector_size(16)));
using u32x4 = uint32_t __attribute__((vector_size(16)));
using u64x2 = uint64_t __attribute__((vector_size(16)));

// The 8 x 8 block of 16-bit values at in (row stride `is`) transposed to out (row stride
// `os`): three rounds of interleaves (16-, 32-, then 64-bit), 24 shuffles for 64 values.
inline __attribute__((always_inline)) void transpose8x8_u16(const uint16_t* in, int64_t is, uint16_t* out, int64_t os) {
  u16x8 r[8];
  for (int i = 0; i < 8; ++i) std::memcpy(&r[i], in + i * is, 16);
  // __builtin_shufflevector (GCC 12 and clang alike; GCC's __builtin_shuffle is GCC-only and
  // broke the clang builds of make fuzz): indices < n pick from the first vector, >= n the second.
  u32x4 t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = (u32x4)__builtin_shufflevector(r[2 * i], r[2 * i + 1], 0, 8, 1, 9, 2, 10, 3, 11);
    t[2 * i + 1] = (u32x4)__builtin_shufflevector(r[2 * i], r[2 * i + 1], 4, 12, 5, 13, 6, 14, 7, 15);
  }
  // t[0..7]: rows (0,1) lo, (0,1) hi, (2,3) lo, (2,3) hi, (4,5) lo, ...
  u64x2 u[8];
  for (int h = 0; h < 2; ++h)      // rows 0-3, rows 4-7
    for (int q = 0; q < 2; ++q) {  // columns 0-3, columns 4-7
      u[4 * h + 2 * q] = (u64x2)__builtin_shufflevector(t[4 * h + q], t[4 * h + 2 + q], 0, 4, 1, 5);
      u[4 * h + 2 * q + 1] = (u64x2)__builtin_shufflevector(t[4 * h + q], t[4 * h + 2 + q], 2, 6, 3, 7);
    }
  // u[0..3]: columns (0,1), (2,3), (4,5), (6,7) of rows 0-3; u[4..7] the same of rows 4-7
  for (int c = 0; c < 4; ++c) {
    const u64x2 a = __builtin_shufflevector(u[c], u[4 + c], 0, 2), b = __builtin_shufflevector(u[c], u[4 + c], 1, 3);
    std::memcpy(out + (2 * c) * os, &a, 16);
    std::memcpy(out + (2 * c + 1) * os, &b, 16);
  }
}

// out[n * ld + k] = in[k * h + n] for k < kn (<= 64) and n < h: 8 x 8 blocks of shuffles, the
// edges (kn or h not a multiple of 8) element by element. 64 output rows at a time, so the
// 64 x 64 block being read stays in L1.
G2_VECTOR_CLONES void transpose_bf16_tile(const uint16_t* __restrict in, int64_t kn, int64_t h,
                                          uint16_t* __restrict out, int64_t ld) {
  const int64_t k8 = kn / 8 * 8;
  for (int64_t nb = 0; nb < h; nb += 64) {
    const int64_t ne = std::min(h, nb + 64), n8 = nb + (ne - nb) / 8 * 8;
    for (int64_t n = nb; n < n8; n += 8)
      for (int64_t k = 0; k < k8; k += 8) transpose8x8_u16(in + k * h + n, h, out + n * ld + k, ld);
    for (int64_t n = nb; n < ne; ++n) {
      uint16_t* o = out + n * ld;
      for (int64_t k = n < n8 ? k8 : 0; k < kn; ++k) o[k] = in[k * h + n];
    }
  }
}

}  // namespace

LogicalReader::~LogicalReader() {
  if (fd_ >= 0) ::close(fd_);
}

Status LogicalReader::init() {
  t_ = src_.find(r_.src);
  if (!t_) return not_found(src_.root() + ": source has no tensor \"" + r_.src + "\"");
  es_ = dtype_size(t_->dtype);
  if (t_->pieces.size() == 1) {
    const TensorView& v = t_->pieces[0].view;
    if (!v.contiguous()) return unsupported(r_.src + ": non-contiguous source view");
    base_ = v.as<const uint8_t>();
    file_base_ = t_->pieces[0].file_offset;
  }
  const Shape& s = t_->shape;
  if (r_.transpose) {
    if (!base_) return unsupported(r_.src + ": a transposed source must be a single piece");
    K_ = s[s.size() - 2];
    N_ = s[s.size() - 1];
    if (r_.expert >= 0) {
      base_ += uint64_t(r_.expert) * uint64_t(K_ * N_) * es_;
      file_base_ += uint64_t(r_.expert) * uint64_t(K_ * N_) * es_;
    }
    if (src_.pieces_in_files()) {
      const std::string& file = t_->pieces[0].file;
      fd_ = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) return io_error(file + ": cannot open: " + std::strerror(errno));
    }
  }
  src_cols_ = s.empty() ? 1 : (s.size() == 1 ? s[0] : s[1]);
  if (r_.decode == Decode::Grok1Int8) {
    auto sc = src_.load(r_.src_scale);
    if (!sc) return sc.error();
    const Shape& ss = sc->view.shape;  // [E, G, N] or [G, N]
    groups_ = int(ss[ss.size() - 2]);
    if (K_ % groups_ != 0)
      return invalid(r_.src_scale + ": " + std::to_string(groups_) + " scale groups do not divide " +
                     std::to_string(K_));
    const uint64_t per = uint64_t(groups_) * uint64_t(N_);
    const uint16_t* all = sc->view.as<const uint16_t>() + (r_.expert >= 0 ? uint64_t(r_.expert) * per : 0);
    g1_scales_.assign(all, all + per);
  }
  if (r_.decode == Decode::Fp8) {
    auto sc = load_source_fp8_scales(src_, r_);
    if (!sc) return sc.error();
    fp8_ = std::move(*sc);
  }
  return Status::Ok();
}

std::string LogicalReader::where(const TensorSource& src, const std::string& tensor) {
  const SourceTensor* t = src.find(tensor);
  return t && !t->pieces.empty() ? t->pieces.front().file : src.root();
}

Expected<Fp8Scales> LogicalReader::load_source_fp8_scales(const TensorSource& src, const Recipe& r) {
  auto sc = src.load(r.src_scale);
  if (!sc) return sc.error();
  Fp8Scales f{r.src_fp8, r.rows, r.cols, {}};
  const float* p = sc->view.as<const float>();
  f.s.assign(p, p + sc->view.numel());
  // Real weight = fp8 * scale: a zero, negative or non-finite scale silently zeroes or
  // poisons a whole block, so a source carrying one is refused (g2kit never writes one).
  for (size_t i = 0; i < f.s.size(); ++i)
    if (!(std::isfinite(f.s[i]) && f.s[i] > 0.0f))
      return invalid(where(src, r.src_scale) + ": " + r.src_scale + "[" + std::to_string(i) + "] is " +
                     std::to_string(f.s[i]) + "; FP8 scales must be finite and > 0");
  return f;
}

Status LogicalReader::read_raw(int64_t r0, int64_t r1, int64_t c0, int64_t c1, uint8_t* out, ReadScratch& s) const {
  G2_ASSERT(!r_.transpose);
  const uint64_t w = uint64_t(c1 - c0) * es_;
  const int64_t have = std::min(r1, r_.src_rows);
  bool done = false;
  if (have > r0 && src_.pieces_in_files()) {
    // read the pieces with pread instead of through the mapping (source_pread.h says why)
    if (!s.pread || s.pread_for != t_) {
      s.pread = std::make_unique<PieceReader>(*t_);
      s.pread_for = t_;
    }
    auto got = s.pread->read(r0, have, c0, c1, out);
    if (!got) return got.error();
    done = *got;
  }
  if (have > r0 && !done) {
    if (base_) {
      for (int64_t r = r0; r < have; ++r)
        std::memcpy(out + uint64_t(r - r0) * w, base_ + (uint64_t(r) * uint64_t(src_cols_) + uint64_t(c0)) * es_, w);
      drop_pages_behind(base_ + uint64_t(r0) * uint64_t(src_cols_) * es_,
                        uint64_t(have - r0) * uint64_t(src_cols_) * es_, kLookBehind);
    } else if (t_->concat_axis == 1 && t_->shape.size() == 2 && (c0 != 0 || c1 != src_cols_)) {
      // a column slice of side-by-side pieces: copy from the pieces holding those columns
      // only (reading whole rows faulted in every piece's width, 16x the slice at TP16)
      int64_t at = 0;
      for (const auto& p : t_->pieces) {
        const int64_t pc = p.view.shape[1], lo = std::max(c0, at), hi = std::min(c1, at + pc);
        if (lo < hi) {
          const uint8_t* pb = p.view.as<const uint8_t>();
          for (int64_t r = r0; r < have; ++r)
            std::memcpy(out + uint64_t(r - r0) * w + uint64_t(lo - c0) * es_,
                        pb + (uint64_t(r) * uint64_t(pc) + uint64_t(lo - at)) * es_, uint64_t(hi - lo) * es_);
          drop_pages_behind(pb + uint64_t(r0) * uint64_t(pc) * es_, uint64_t(have - r0) * uint64_t(pc) * es_,
                            kLookBehind);
        }
        at += pc;
      }
    } else {
      const uint64_t full = uint64_t(src_cols_) * es_;
      if (c0 == 0 && c1 == src_cols_) {
        G2_TRY(src_.read_rows(*t_, r0, have, out));
      } else {
        s.rowbuf.resize(size_t(uint64_t(have - r0) * full));
        G2_TRY(src_.read_rows(*t_, r0, have, s.rowbuf.data()));
        for (int64_t r = r0; r < have; ++r)
          std::memcpy(out + uint64_t(r - r0) * w, s.rowbuf.data() + uint64_t(r - r0) * full + uint64_t(c0) * es_, w);
      }
      drop_piece_rows(r0, have);
    }
  }
  if (r1 > std::max(have, r0)) {
    const int64_t z0 = std::max(have, r0);
    std::memset(out + uint64_t(z0 - r0) * w, 0, uint64_t(r1 - z0) * w);
  }
  return Status::Ok();
}

bool LogicalReader::decode_pieces(int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* out) const {
  if (t_->shape.size() != 2 || (t_->concat_axis != 0 && t_->concat_axis != 1)) return false;
  for (const auto& p : t_->pieces)
    if (p.view.shape.size() != 2 || !p.view.contiguous() || !p.view.data) return false;
  const int64_t w = c1 - c0;
  int64_t at = 0;
  for (const auto& p : t_->pieces) {
    const int64_t pr = p.view.shape[0], pc = p.view.shape[1];
    const uint8_t* pb = p.view.as<const uint8_t>();
    // this piece's rows [lo, hi) (logical) and columns [clo, chi) (logical), `at` its offset
    const bool stacked = t_->concat_axis == 0;
    const int64_t lo = stacked ? std::max(r0, at) : r0, hi = stacked ? std::min(r1, at + pr) : r1;
    const int64_t clo = stacked ? c0 : std::max(c0, at), chi = stacked ? c1 : std::min(c1, at + pc);
    const int64_t prow0 = stacked ? at : 0, pcol0 = stacked ? 0 : at;
    if (lo < hi && clo < chi) {
      for (int64_t r = lo; r < hi; ++r)
        float_run_to_f32(t_->dtype, pb + (uint64_t(r - prow0) * uint64_t(pc) + uint64_t(clo - pcol0)) * es_,
                         size_t(chi - clo), out + (r - r0) * w + (clo - c0));
      drop_pages_behind(pb + uint64_t(lo - prow0) * uint64_t(pc) * es_, uint64_t(hi - lo) * uint64_t(pc) * es_,
                        kLookBehind);
    }
    at += stacked ? pr : pc;
  }
  return true;
}

Status LogicalReader::read_f32(int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* out, ReadScratch& s) const {
  const int64_t w = c1 - c0;
  if (r_.transpose) {
    read_transposed(r0, r1, c0, c1, out);
    return Status::Ok();
  }
  if (r_.decode == Decode::Grok1Int8) return unsupported(r_.src + ": Grok-1 int8 weights are always transposed");
  if (r_.decode != Decode::Fp8) {
    // the common cases (every FP8 conversion of a BF16 set, a Grok-1 f32 embedding):
    // decoded straight from the mapped source, one piece or several (a TP set's expert
    // slices), without first copying the rows into raw as read_raw does
    const int64_t have = std::max(r0, std::min(r1, r_.src_rows));
    bool done = have == r0;
    if (!done && base_) {
      for (int64_t r = r0; r < have; ++r)
        float_run_to_f32(t_->dtype, base_ + (uint64_t(r) * uint64_t(src_cols_) + uint64_t(c0)) * es_, size_t(w),
                         out + (r - r0) * w);
      drop_pages_behind(base_ + uint64_t(r0) * uint64_t(src_cols_) * es_,
                        uint64_t(have - r0) * uint64_t(src_cols_) * es_, kLookBehind);
      done = true;
    }
    if (!done) done = decode_pieces(r0, have, c0, c1, out);
    if (done) {
      std::fill(out + (have - r0) * w, out + (r1 - r0) * w, 0.0f);  // rows past the source's vocab
      return Status::Ok();
    }
  }
  s.raw.resize(size_t(uint64_t(r1 - r0) * uint64_t(w) * es_));
  G2_TRY(read_raw(r0, r1, c0, c1, s.raw.data(), s));
  const uint8_t* p = s.raw.data();
  if (r_.decode != Decode::Fp8) {
    float_run_to_f32(t_->dtype, p, size_t((r1 - r0) * w), out);  // pieces decode_pieces does not handle
    return Status::Ok();
  }
  for (int64_t r = 0; r < r1 - r0; ++r)  // FP8 (every other decode returned above)
    for (int64_t c = 0; c < w; ++c, p += es_) out[r * w + c] = fp8_dequantize(*p, fp8_.at(r0 + r, c0 + c));
  return Status::Ok();
}

std::optional<std::vector<std::span<const uint8_t>>> LogicalReader::spans(int64_t r0, int64_t r1, int64_t c0,
                                                                          int64_t c1) const {
  if (r_.transpose || r1 > r_.src_rows) return std::nullopt;
  return contiguous_spans(*t_, r0, r1, c0, c1);
}

// Logical (r, c) = source (k = c, n = r) of a [K, N] source: walk it in kTile x kTile
// tiles. Each source row's run of a tile is decoded contiguously (the loop vectorises) into
// `tile`, which is then written out transposed, a run of kTile floats per output row. The
// previous column-at-a-time walk stored every element with a stride of a whole output row
// (a cache miss per element on wide chunks). Same values.
void LogicalReader::read_transposed(int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* out) const {
  constexpr int64_t kTile = 64;
  const int64_t w = c1 - c0, h = r1 - r0;
  float tile[kTile][kTile];  // [source row k - cb][n - r0 - rb]: 16 KiB, stays in L1
  for (int64_t cb = c0; cb < c1; cb += kTile) {
    const int64_t ce = std::min(c1, cb + kTile);
    for (int64_t rb = 0; rb < h; rb += kTile) {
      const int64_t th = std::min(h - rb, kTile);
      for (int64_t c = cb; c < ce; ++c) {
        const uint64_t at = uint64_t(c) * uint64_t(N_) + uint64_t(r0 + rb);
        float* t = tile[c - cb];
        if (r_.decode == Decode::Grok1Int8) {
          const uint16_t* s = g1_scales_.data() + grok1_scale_group(c, K_, groups_) * N_ + r0 + rb;
          grok1_dequantize_f32(reinterpret_cast<const int8_t*>(base_ + at * es_), s, th, t);
        } else {
          float_run_to_f32(t_->dtype, base_ + at * es_, size_t(th), t);
        }
      }
      for (int64_t i = 0; i < th; ++i) {
        float* o = out + (rb + i) * w + (cb - c0);
        for (int64_t c = 0; c < ce - cb; ++c) o[c] = tile[c][i];
      }
    }
  }
}

Status LogicalReader::read_bf16_transposed(int64_t r0, int64_t r1, int64_t k0, int64_t k1, uint16_t* out, int64_t ld,
                                           ReadScratch& s) const {
  G2_ASSERT(bf16_transposed());
  constexpr int64_t kTile = 64;
  const int64_t h = r1 - r0;
  for (int64_t kb = k0; kb < k1; kb += kTile) {
    const int64_t ke = std::min(k1, kb + kTile), kn = ke - kb;
    s.tile.resize(size_t(kTile * h));  // [source row k - kb][n - r0]
    if (fd_ >= 0) s.raw.resize(size_t(kTile * h));
    for (int64_t k = kb; k < ke; ++k) {
      const uint64_t at = uint64_t(k) * uint64_t(N_) + uint64_t(r0);
      const int8_t* w = reinterpret_cast<const int8_t*>(base_ + at);
      if (fd_ >= 0) {  // one pread per source row: the run is the chunk's height, ~1-2 KiB
        uint8_t* dst = s.raw.data() + (k - kb) * h;
        for (uint64_t got = 0; got < uint64_t(h);) {
          const ssize_t n = ::pread(fd_, dst + got, size_t(h) - got, off_t(file_base_ + at + got));
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0)
            return io_error(t_->pieces[0].file + ": " + r_.src + ": read failed at offset " +
                            std::to_string(file_base_ + at + got) +
                            (n < 0 ? std::string(": ") + std::strerror(errno) : std::string(" (truncated?)")));
          got += uint64_t(n);
        }
        w = reinterpret_cast<const int8_t*>(dst);
      }
      grok1_dequantize_bf16(w, g1_scales_.data() + grok1_scale_group(k, K_, groups_) * N_ + r0, h,
                            s.tile.data() + (k - kb) * h);
    }
    transpose_bf16_tile(s.tile.data(), kn, h, out + (kb - k0), ld);
  }
  return Status::Ok();
}

void LogicalReader::release(int64_t r0, int64_t r1, int64_t c0, int64_t c1) const {
  if (!r_.transpose) return;
  if (r0 == 0 && r1 == N_) {  // whole source rows (a column shard): one contiguous span
    drop_whole_pages(base_ + uint64_t(c0) * uint64_t(N_) * es_, uint64_t(c1 - c0) * uint64_t(N_) * es_);
    return;
  }
  for (int64_t c = c0; c < c1; ++c)
    drop_whole_pages(base_ + (uint64_t(c) * uint64_t(N_) + uint64_t(r0)) * es_, uint64_t(r1 - r0) * es_);
}

void LogicalReader::drop_piece_rows(int64_t r0, int64_t r1) const {
  // pieces concatenated on axis 0 hold disjoint row ranges; on another axis every piece holds every row
  int64_t at = 0;
  for (const auto& p : t_->pieces) {
    const int64_t prow = p.view.shape.empty() ? 1 : p.view.shape[0];
    const uint64_t rb = p.view.nbytes() / uint64_t(std::max<int64_t>(prow, 1));
    const int64_t lo = t_->concat_axis == 0 ? std::max(r0, at) : r0;
    const int64_t hi = t_->concat_axis == 0 ? std::min(r1, at + prow) : r1;
    if (lo < hi) {
      const int64_t local = t_->concat_axis == 0 ? lo - at : lo;
      drop_pages_behind(p.view.as<const uint8_t>() + uint64_t(local) * rb, uint64_t(hi - lo) * rb, kLookBehind);
    }
    at += prow;
  }
}

}  // namespace g2
