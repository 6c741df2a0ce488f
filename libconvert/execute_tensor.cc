#include "libconvert/execute_tensor.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "kernels/ops/quant.h"
#include "libconvert/float_runs.h"
#include "libconvert/page_drop.h"
#include "libconvert/source_pread.h"

namespace g2 {

namespace {

// The logical 2-D tensor of a recipe, read from the source in rectangles.
class LogicalReader {
 public:
  LogicalReader(const TensorSource& src, const Recipe& r) : src_(src), r_(r) {}

  Status init() {
    t_ = src_.find(r_.src);
    if (!t_) return not_found(src_.root() + ": source has no tensor \"" + r_.src + "\"");
    es_ = dtype_size(t_->dtype);
    if (t_->pieces.size() == 1) {
      const TensorView& v = t_->pieces[0].view;
      if (!v.contiguous()) return unsupported(r_.src + ": non-contiguous source view");
      base_ = v.as<const uint8_t>();
    }
    const Shape& s = t_->shape;
    if (r_.transpose) {
      if (!base_) return unsupported(r_.src + ": a transposed source must be a single piece");
      K_ = s[s.size() - 2];
      N_ = s[s.size() - 1];
      if (r_.expert >= 0) base_ += uint64_t(r_.expert) * uint64_t(K_ * N_) * es_;
    }
    src_cols_ = s.empty() ? 1 : (s.size() == 1 ? s[0] : s[1]);
    if (r_.decode == Decode::Grok1Int8) {
      auto sc = src_.load(r_.src_scale);
      if (!sc) return sc.error();
      const Shape& ss = sc->view.shape;  // [E, G, N] or [G, N]
      groups_ = int(ss[ss.size() - 2]);
      if (K_ % groups_ != 0) return invalid(r_.src_scale + ": " + std::to_string(groups_) + " scale groups do not divide " + std::to_string(K_));
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

  // The file holding `tensor` (its first piece), else the source directory, for messages.
  static std::string where(const TensorSource& src, const std::string& tensor) {
    const SourceTensor* t = src.find(tensor);
    return t && !t->pieces.empty() ? t->pieces.front().file : src.root();
  }

  static Expected<Fp8Scales> load_source_fp8_scales(const TensorSource& src, const Recipe& r) {
    auto sc = src.load(r.src_scale);
    if (!sc) return sc.error();
    Fp8Scales f{r.src_fp8, r.rows, r.cols, {}};
    const float* p = sc->view.as<const float>();
    f.s.assign(p, p + sc->view.numel());
    // Real weight = fp8 * scale: a zero, negative or non-finite scale silently zeroes or
    // poisons a whole block, so a source carrying one is refused (g2kit never writes one).
    for (size_t i = 0; i < f.s.size(); ++i)
      if (!(std::isfinite(f.s[i]) && f.s[i] > 0.0f))
        return invalid(where(src, r.src_scale) + ": " + r.src_scale + "[" + std::to_string(i) + "] is " + std::to_string(f.s[i]) +
                       "; FP8 scales must be finite and > 0");
    return f;
  }

  // Source bytes of [r0, r1) x [c0, c1) (rows past the source's vocab are zero).
  Status read_raw(int64_t r0, int64_t r1, int64_t c0, int64_t c1, uint8_t* out) {
    G2_ASSERT(!r_.transpose);
    const uint64_t w = uint64_t(c1 - c0) * es_;
    const int64_t have = std::min(r1, r_.src_rows);
    bool done = false;
    if (have > r0 && src_.pieces_in_files()) {
      // read the pieces with pread instead of through the mapping (source_pread.h says why)
      if (!pread_) pread_ = std::make_unique<PieceReader>(*t_);
      auto got = pread_->read(r0, have, c0, c1, out);
      if (!got) return got.error();
      done = *got;
    }
    if (have > r0 && !done) {
      if (base_) {
        for (int64_t r = r0; r < have; ++r)
          std::memcpy(out + uint64_t(r - r0) * w, base_ + (uint64_t(r) * uint64_t(src_cols_) + uint64_t(c0)) * es_, w);
        drop_pages_behind(base_ + uint64_t(r0) * uint64_t(src_cols_) * es_, uint64_t(have - r0) * uint64_t(src_cols_) * es_,
                          kLookBehind);
      } else if (t_->concat_axis == 1 && t_->shape.size() == 2 && (c0 != 0 || c1 != src_cols_)) {
        // a column slice of side-by-side pieces: copy from the pieces holding those columns
        // only (reading whole rows faulted in every piece's width, 16x the slice at TP16)
        int64_t at = 0;
        for (const auto& p : t_->pieces) {
          const int64_t pc = p.view.shape[1], lo = std::max(c0, at), hi = std::min(c1, at + pc);
          if (lo < hi) {
            const uint8_t* pb = p.view.as<const uint8_t>();
            for (int64_t r = r0; r < have; ++r)
              std::memcpy(out + uint64_t(r - r0) * w + uint64_t(lo - c0) * es_, pb + (uint64_t(r) * uint64_t(pc) + uint64_t(lo - at)) * es_,
                          uint64_t(hi - lo) * es_);
            drop_pages_behind(pb + uint64_t(r0) * uint64_t(pc) * es_, uint64_t(have - r0) * uint64_t(pc) * es_, kLookBehind);
          }
          at += pc;
        }
      } else {
        const uint64_t full = uint64_t(src_cols_) * es_;
        if (c0 == 0 && c1 == src_cols_) {
          G2_TRY(src_.read_rows(*t_, r0, have, out));
        } else {
          rowbuf_.resize(size_t(uint64_t(have - r0) * full));
          G2_TRY(src_.read_rows(*t_, r0, have, rowbuf_.data()));
          for (int64_t r = r0; r < have; ++r)
            std::memcpy(out + uint64_t(r - r0) * w, rowbuf_.data() + uint64_t(r - r0) * full + uint64_t(c0) * es_, w);
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

  // A transposed read leaves the source pages it read resident until release(), so that
  // callers reading a chunk in narrow row ranges still drop each page once, whole (see
  // drop_whole_pages); other reads drop their rows as they go.
  Status read_f32(int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* out) {
    const int64_t w = c1 - c0;
    if (r_.transpose) {
      read_transposed(r0, r1, c0, c1, out);
      return Status::Ok();
    }
    if (r_.decode == Decode::Grok1Int8) return unsupported(r_.src + ": Grok-1 int8 weights are always transposed");
    if (base_ && r_.decode != Decode::Fp8) {
      // the common case (every FP8 conversion of a BF16 set, a Grok-1 f32 embedding):
      // decoded straight from the mapped source, without first copying the rows into raw_
      // as read_raw does
      const int64_t have = std::max(r0, std::min(r1, r_.src_rows));
      for (int64_t r = r0; r < have; ++r)
        float_run_to_f32(t_->dtype, base_ + (uint64_t(r) * uint64_t(src_cols_) + uint64_t(c0)) * es_, size_t(w), out + (r - r0) * w);
      std::fill(out + (have - r0) * w, out + (r1 - r0) * w, 0.0f);  // rows past the source's vocab
      if (have > r0)
        drop_pages_behind(base_ + uint64_t(r0) * uint64_t(src_cols_) * es_, uint64_t(have - r0) * uint64_t(src_cols_) * es_, kLookBehind);
      return Status::Ok();
    }
    raw_.resize(size_t(uint64_t(r1 - r0) * uint64_t(w) * es_));
    G2_TRY(read_raw(r0, r1, c0, c1, raw_.data()));
    const uint8_t* p = raw_.data();
    if (r_.decode != Decode::Fp8) {
      float_run_to_f32(t_->dtype, p, size_t((r1 - r0) * w), out);  // a source in several pieces
      return Status::Ok();
    }
    for (int64_t r = 0; r < r1 - r0; ++r)  // FP8 (every other decode returned above)
      for (int64_t c = 0; c < w; ++c, p += es_) out[r * w + c] = fp8_dequantize(*p, fp8_.at(r0 + r, c0 + c));
    return Status::Ok();
  }

  // [r0, r1) x [c0, c1) as contiguous ranges of the source's own bytes (source_pread.h), when
  // they are laid out so and need no zero padding.
  std::optional<std::vector<std::span<const uint8_t>>> spans(int64_t r0, int64_t r1, int64_t c0, int64_t c1) const {
    if (r_.transpose || r1 > r_.src_rows) return std::nullopt;
    return contiguous_spans(*t_, r0, r1, c0, c1);
  }

  // Logical (r, c) = source (k = c, n = r) of a [K, N] source: walk it in kTile x kTile
  // tiles. Each source row's run of a tile is decoded contiguously (the loop vectorises) into
  // `tile`, which is then written out transposed, a run of kTile floats per output row. The
  // previous column-at-a-time walk stored every element with a stride of a whole output row
  // (a cache miss per element on wide chunks). Same values.
  void read_transposed(int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* out) {
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

  // Drops the source pages a transposed read of [r0, r1) x [c0, c1) has fully consumed: one
  // call per source row (k = c), over its run n in [r0, r1). No-op for other reads.
  void release(int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    if (!r_.transpose) return;
    if (r0 == 0 && r1 == N_) {  // whole source rows (a column shard): one contiguous span
      drop_whole_pages(base_ + uint64_t(c0) * uint64_t(N_) * es_, uint64_t(c1 - c0) * uint64_t(N_) * es_);
      return;
    }
    for (int64_t c = c0; c < c1; ++c)
      drop_whole_pages(base_ + (uint64_t(c) * uint64_t(N_) + uint64_t(r0)) * es_, uint64_t(r1 - r0) * es_);
  }

  // Bytes of one full logical row as read (for chunk sizing).
  uint64_t row_read_bytes() const { return uint64_t(r_.transpose ? K_ : src_cols_) * es_; }

 private:
  void drop_piece_rows(int64_t r0, int64_t r1) {
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

  const TensorSource& src_;
  const Recipe& r_;
  const SourceTensor* t_ = nullptr;
  const uint8_t* base_ = nullptr;  // single-piece payload (expert applied when transposed)
  uint32_t es_ = 1;
  int64_t K_ = 0, N_ = 0, src_cols_ = 1;
  int groups_ = 1;
  std::vector<uint16_t> g1_scales_;  // [G, N] bf16 bits of this expert
  Fp8Scales fp8_;
  std::vector<uint8_t> rowbuf_, raw_;
  std::unique_ptr<PieceReader> pread_;  // open source files, for read_raw
};

// Scratch per chunk of a row-wise (not transposed) read, at most, whatever the budget: larger
// chunks made plain copies no faster and FP8 encoding slower (more cache misses and first-touch
// page faults; bench/NOTES.md "Peak RSS"), and they set the peak RSS. Capped, a reshard's peak
// RSS is the same for any model and budget. The transposed (Grok-1) read keeps the whole
// budget: each chunk walks every source row, so fewer chunks mean fewer passes.
constexpr uint64_t kMaxRowChunkBytes = uint64_t(16) << 20;

uint64_t chunk_budget(const Recipe& r, uint64_t chunk_bytes) {
  return r.transpose ? chunk_bytes : std::min(chunk_bytes, kMaxRowChunkBytes);
}

int64_t chunk_rows_for(uint64_t chunk_bytes, uint64_t row_bytes, int64_t total) {
  const uint64_t n = chunk_bytes / std::max<uint64_t>(row_bytes, 1);
  return std::clamp<int64_t>(int64_t(std::min<uint64_t>(n, uint64_t(total))), 1, std::max<int64_t>(total, 1));
}

// Rows of `cols` values per f32 stage within a chunk of `chunk` rows. Decoded values pass
// through a small f32 buffer reused for every row range of a chunk, instead of chunk-sized
// f32 buffers: those were fresh anonymous memory for every tensor (page faults, zeroing and
// munmap were about half the CPU time of an FP8 conversion, bench/NOTES.md) and fell out of
// cache between the decode, quantise, round-trip and error passes. 64K values (256 KiB of
// f32; with the round trip, raw bytes and output it stays in a 1 MiB L2); at least 64 rows
// for a transposed source, so its 64 x 64 tiles stay whole.
int64_t stage_rows(int64_t cols, bool transposed, int64_t chunk) {
  constexpr int64_t kStageValues = int64_t(1) << 16;
  const int64_t rows = std::max<int64_t>(kStageValues / std::max<int64_t>(cols, 1), transposed ? 64 : 1);
  return std::clamp<int64_t>(rows, 1, std::max<int64_t>(chunk, 1));
}

std::string lossy_what(const Recipe& r) {
  if (r.encode == Encode::Fp8Weight) return "fp8 " + fp8_spec_name(r.fp8);
  return r.decode == Decode::Fp8 ? "fp8 -> bf16" : std::string(dtype_name(r.src_dtype)) + " -> bf16";
}

}  // namespace

ScaleCache::ScaleCache(const Plan& plan) {
  for (const auto& f : plan.files)
    for (const auto& t : f.tensors)
      if (t.recipe.encode == Encode::Fp8Weight || t.recipe.encode == Encode::Fp8Scale) {
        auto& e = entries_[t.recipe.logical];
        if (!e) e = std::make_shared<Entry>();
        ++e->users;
      }
}

Expected<std::shared_ptr<const Fp8Scales>> ScaleCache::get(const TensorSource& src, const Recipe& r, uint64_t chunk_bytes,
                                                           std::vector<float>& buf) {
  std::shared_ptr<Entry> e;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = entries_.find(r.logical);
    G2_ASSERT(it != entries_.end(), "scale cache entry missing");
    e = it->second;
  }
  std::call_once(e->once, [&] {
    if (r.decode == Decode::Raw) {  // raw FP8 copy: the source's own scales
      auto s = LogicalReader::load_source_fp8_scales(src, r);
      if (!s) e->error = s.error();
      else e->scales = std::make_shared<Fp8Scales>(std::move(*s));
      return;
    }
    LogicalReader rd(src, r);
    if (auto st = rd.init(); !st.ok()) {
      e->error = st.error();
      return;
    }
    Fp8ScaleBuilder b(r.fp8, r.rows, r.cols, r.logical);
    const int64_t step = chunk_rows_for(chunk_budget(r, chunk_bytes), uint64_t(r.cols) * 4 + 2 * rd.row_read_bytes(), r.rows);
    const int64_t stage = stage_rows(r.cols, r.transpose, step);
    buf.resize(size_t(stage * r.cols));  // the worker's own scratch: never held next to a second copy
    for (int64_t r0 = 0; r0 < r.rows; r0 += step) {
      const int64_t r1 = std::min(r.rows, r0 + step);
      for (int64_t s0 = r0; s0 < r1; s0 += stage) {
        const int64_t s1 = std::min(r1, s0 + stage);
        Status st = rd.read_f32(s0, s1, 0, r.cols, buf.data());
        if (st.ok()) st = b.add_rows(s0, s1 - s0, buf.data());
        if (!st.ok()) {
          e->error = st.error();
          return;
        }
      }
      rd.release(r0, r1, 0, r.cols);
    }
    e->scales = std::make_shared<Fp8Scales>(b.finish());
  });
  if (e->error) return *e->error;
  return std::shared_ptr<const Fp8Scales>(e->scales);
}

void ScaleCache::done(const std::string& logical) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = entries_.find(logical);
  if (it != entries_.end() && --it->second->users <= 0) entries_.erase(it);
}

void QuantStats::add(const std::string& logical, const std::string& what, const QuantError& e) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& slot = m_[logical];
  slot.first = what;
  slot.second.merge(e);
}

std::vector<std::pair<std::string, std::pair<std::string, QuantError>>> QuantStats::take() {
  std::lock_guard<std::mutex> lk(mu_);
  return {m_.begin(), m_.end()};
}

Status produce_tensor(const TensorJob& job, const std::function<Status(std::span<const uint8_t>)>& sink) {
  const Recipe& r = job.t.recipe;
  auto as_bytes = [](const void* p, size_t n) { return std::span<const uint8_t>(static_cast<const uint8_t*>(p), n); };
  if (r.encode == Encode::Fp8Scale) {
    auto sc = job.scales.get(job.src, r, job.chunk_bytes, job.scratch.vals);
    if (!sc) return sc.error();
    const ScaleSlice s = fp8_scale_slice(**sc, r.slice_axis, r.begin, r.end);
    job.scales.done(r.logical);
    G2_ASSERT(s.values.size() * 4 == job.t.bytes, "scale slice size disagrees with the plan");
    return sink(as_bytes(s.values.data(), s.values.size() * 4));
  }
  std::shared_ptr<const Fp8Scales> fp8;
  if (r.encode == Encode::Fp8Weight) {
    auto sc = job.scales.get(job.src, r, job.chunk_bytes, job.scratch.vals);
    if (!sc) return sc.error();
    fp8 = *sc;
  }
  LogicalReader rd(job.src, r);
  G2_TRY(rd.init());
  const bool rows_split = r.slice_axis == 0;
  const int64_t rb = rows_split ? r.begin : 0, re = rows_split ? r.end : r.rows;
  const int64_t cb = rows_split ? 0 : r.begin, ce = rows_split ? r.cols : r.end;
  const int64_t w = ce - cb;
  const uint32_t oes = dtype_size(job.t.dtype);
  // per logical row: what is read, the f32 values, their round trip, and the encoded output
  // (a row read from a multi-piece source may pass through two full-width buffers)
  const uint64_t row_cost = 2 * rd.row_read_bytes() + uint64_t(w) * (r.decode == Decode::Raw ? 0 : 8) + uint64_t(w) * oes;
  const int64_t step = chunk_rows_for(chunk_budget(r, job.chunk_bytes), row_cost, re - rb);
  const int64_t stage = stage_rows(w, r.transpose, step);
  std::vector<uint8_t>& out = job.scratch.out;
  std::vector<float>& vals = job.scratch.vals;
  std::vector<float>& back = job.scratch.back;
  out.resize(size_t(uint64_t(step) * uint64_t(w) * oes));
  if (r.decode != Decode::Raw) vals.resize(size_t(stage * w));
  const bool lossy = r.encode == Encode::Fp8Weight ||
                     (r.encode == Encode::BF16 && (r.decode == Decode::Float || r.decode == Decode::Fp8) &&
                      r.src_dtype != DType::BF16);
  if (lossy) back.resize(size_t(stage * w));
  QuantError err;
  uint64_t written = 0;
  for (int64_t r0 = rb; r0 < re; r0 += step) {
    const int64_t r1 = std::min(re, r0 + step), n = (r1 - r0) * w;
    if (r.decode == Decode::Raw) {
      if (auto spans = rd.spans(r0, r1, cb, ce)) {
        // straight from the mapping to the writer: no staging copy; the pages are dropped
        // as soon as they are written, so the resident set holds one chunk of them at most
        for (const auto& sp : *spans) {
          G2_TRY(sink(sp));
          drop_pages_behind(sp.data(), sp.size(), kLookBehind);
          written += sp.size();
        }
        continue;
      }
      G2_TRY(rd.read_raw(r0, r1, cb, ce, out.data()));
    } else {
      for (int64_t s0 = r0; s0 < r1; s0 += stage) {  // [s0, s1) rows of the chunk, at element `at` of out
        const int64_t s1 = std::min(r1, s0 + stage), sn = (s1 - s0) * w, at = (s0 - r0) * w;
        G2_TRY(rd.read_f32(s0, s1, cb, ce, vals.data()));
        switch (r.encode) {
          case Encode::BF16: {
            encode_bf16_run(vals.data(), size_t(sn), reinterpret_cast<uint16_t*>(out.data()) + at, lossy ? back.data() : nullptr);
            break;
          }
          case Encode::F32: std::memcpy(out.data() + size_t(at) * 4, vals.data(), size_t(sn) * 4); break;
          case Encode::Fp8Weight:
            fp8_quantize_rect(*fp8, s0, s1 - s0, cb, w, vals.data(), out.data() + at);
            fp8_dequantize_rect(*fp8, s0, s1 - s0, cb, w, out.data() + at, back.data());
            break;
          default: return unsupported(job.t.name + ": unsupported encode for a decoded tensor");
        }
        if (lossy) err.add(vals.data(), back.data(), size_t(sn));
      }
      rd.release(r0, r1, cb, ce);
    }
    const uint64_t nb = uint64_t(n) * oes;
    G2_TRY(sink(as_bytes(out.data(), nb)));
    written += nb;
  }
  if (job.t.shape.empty() && written == 0) G2_TRY(sink(as_bytes(out.data(), 0)));
  G2_ASSERT(written == job.t.bytes, "produced bytes disagree with the plan");
  if (fp8) job.scales.done(r.logical);
  if (lossy) job.stats.add(r.logical, lossy_what(r), err);
  return Status::Ok();
}

}  // namespace g2
