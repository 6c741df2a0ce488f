#include "libconvert/exec/execute_tensor.h"

#include <algorithm>
#include <cstring>

#include "libconvert/quant/float_runs.h"
#include "libconvert/source/page_drop.h"

namespace g2 {

namespace {

// Scratch per chunk of a row-wise (not transposed) read, at most, whatever the budget: larger
// chunks made plain copies no faster and FP8 encoding slower (more cache misses and first-touch
// page faults; bench/NOTES.md "Peak RSS"), and they set the peak RSS. Capped, a reshard's peak
// RSS is the same for any model and budget. The transposed bf16 read (a Grok-1 upgrade) is
// capped too: it reads each source row's run once per chunk with pread, so smaller chunks
// only mean shorter runs. The transposed f32 read (Grok-1 to FP8) keeps the whole budget:
// each chunk walks every source row through the mapping, so fewer chunks mean fewer passes.
constexpr uint64_t kMaxRowChunkBytes = uint64_t(16) << 20;

// Source rows per part of a transposed bf16 chunk (two 64-row tiles).
constexpr int64_t kTransposedPartRows = 128;
// Its chunk: half the row cap. Its rows are the source runs each pread reads (~700 bytes for
// a 6144-wide Grok-1 weight), so smaller chunks cost syscalls, but at 16 MiB the two workers'
// chunks and writer buffers put a real-width upgrade's peak RSS at 70 MiB.
constexpr uint64_t kMaxTransposedChunkBytes = kMaxRowChunkBytes / 2;

int64_t chunk_rows_for(uint64_t chunk_bytes, uint64_t row_bytes, int64_t total) {
  const uint64_t n = chunk_bytes / std::max<uint64_t>(row_bytes, 1);
  return std::clamp<int64_t>(int64_t(std::min<uint64_t>(n, uint64_t(total))), 1, std::max<int64_t>(total, 1));
}

// Rows of `cols` values per f32 stage within a chunk of `chunk` rows: the unit of work of a
// chunk's parts. Decoded values pass through a small f32 buffer per thread instead of
// chunk-sized f32 buffers: those were fresh anonymous memory for every tensor (page faults,
// zeroing and munmap were about half the CPU time of an FP8 conversion, bench/NOTES.md) and
// fell out of cache between the decode, quantise, round-trip and error passes. 64K values
// (256 KiB of f32; with the round trip, raw bytes and output it stays in a 1 MiB L2); at least
// 64 rows for a transposed source, so its 64 x 64 tiles stay whole.
int64_t stage_rows(int64_t cols, bool transposed, int64_t chunk) {
  constexpr int64_t kStageValues = int64_t(1) << 16;
  const int64_t rows = std::max<int64_t>(kStageValues / std::max<int64_t>(cols, 1), transposed ? 64 : 1);
  return std::clamp<int64_t>(rows, 1, std::max<int64_t>(chunk, 1));
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// fn(part, participant, its stage scratch) for parts [0, n) on the pool. Returns the error of
// the first failing part in part order (what a sequential loop would have stopped at), so the
// message does not depend on thread timing.
Status run_parts(WorkPool& pool, ChunkScratch& cs, int n, const std::function<Status(int, int, StageScratch&)>& fn) {
  if (cs.stages.size() < size_t(pool.max_participants())) cs.stages.resize(size_t(pool.max_participants()));
  std::vector<std::optional<Error>> errors(static_cast<size_t>(n));
  pool.run(n, [&](int part, int who) {
    Status st = fn(part, who, cs.stages[size_t(who)]);
    if (!st.ok()) errors[size_t(part)] = st.error();
  });
  for (auto& e : errors)
    if (e) return *e;
  return Status::Ok();
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

Expected<std::shared_ptr<const Fp8Scales>> ScaleCache::get(const TensorSource& src, const Recipe& r,
                                                           uint64_t chunk_bytes, ChunkScratch& scratch,
                                                           WorkPool& pool) {
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
    // one builder per participant (a stage's rows may share scale blocks with the next
    // stage's), merged at the end: max is exact in any order
    std::vector<Fp8ScaleBuilder> b(size_t(pool.max_participants()), Fp8ScaleBuilder(r.fp8, r.rows, r.cols, r.logical));
    const uint64_t budget = r.transpose ? chunk_bytes : std::min(chunk_bytes, kMaxRowChunkBytes);
    const int64_t step = chunk_rows_for(budget, uint64_t(r.cols) * 4 + 2 * rd.row_read_bytes(), r.rows);
    const int64_t stage = stage_rows(r.cols, r.transpose, step);
    for (int64_t r0 = 0; r0 < r.rows; r0 += step) {
      const int64_t r1 = std::min(r.rows, r0 + step);
      Status st =
          run_parts(pool, scratch, int(ceil_div(r1 - r0, stage)), [&](int p, int who, StageScratch& ss) -> Status {
            const int64_t s0 = r0 + p * stage, s1 = std::min(r1, s0 + stage);
            ss.vals.resize(size_t(stage * r.cols));  // the worker's own scratch: never held next to a second copy
            G2_TRY(rd.read_f32(s0, s1, 0, r.cols, ss.vals.data(), ss.read));
            return b[size_t(who)].add_rows(s0, s1 - s0, ss.vals.data());
          });
      if (!st.ok()) {
        e->error = st.error();
        return;
      }
      rd.release(r0, r1, 0, r.cols);
    }
    for (size_t i = 1; i < b.size(); ++i) b[0].merge(b[i]);
    e->scales = std::make_shared<Fp8Scales>(b[0].finish());
  });
  if (e->error) return *e->error;
  return std::shared_ptr<const Fp8Scales>(e->scales);
}

void ScaleCache::done(const std::string& logical) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = entries_.find(logical);
  if (it != entries_.end() && --it->second->users <= 0) entries_.erase(it);
}

void QuantStats::add(const std::string& logical, const std::string& what, int64_t begin, const QuantError& e) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& slot = m_[logical];
  slot.first = what;
  slot.second[begin].push_back(e);
}

std::vector<std::pair<std::string, std::pair<std::string, QuantError>>> QuantStats::take() {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::pair<std::string, std::pair<std::string, QuantError>>> out;
  for (const auto& [logical, slot] : m_) {
    QuantError all;
    for (const auto& [begin, shards] : slot.second)
      for (const QuantError& e : shards) all.merge(e);
    out.push_back({logical, {slot.first, all}});
  }
  return out;
}

Status produce_tensor(const TensorJob& job, const std::function<Status(std::span<const uint8_t>)>& sink) {
  const Recipe& r = job.t.recipe;
  auto as_bytes = [](const void* p, size_t n) { return std::span<const uint8_t>(static_cast<const uint8_t*>(p), n); };
  if (r.encode == Encode::Fp8Scale) {
    auto sc = job.scales.get(job.src, r, job.chunk_bytes, job.scratch, job.pool);
    if (!sc) return sc.error();
    const ScaleSlice s = fp8_scale_slice(**sc, r.slice_axis, r.begin, r.end);
    job.scales.done(r.logical);
    G2_ASSERT(s.values.size() * 4 == job.t.bytes, "scale slice size disagrees with the plan");
    return sink(as_bytes(s.values.data(), s.values.size() * 4));
  }
  std::shared_ptr<const Fp8Scales> fp8;
  if (r.encode == Encode::Fp8Weight) {
    auto sc = job.scales.get(job.src, r, job.chunk_bytes, job.scratch, job.pool);
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
  // A transposed Grok-1 int8 weight to BF16: decoded and transposed straight into the output
  // rows (no f32 stage; exact, so no error statistics).
  const bool bf16_direct = rd.bf16_transposed() && r.encode == Encode::BF16;
  // per logical row: what is read, the f32 values, their round trip, and the encoded output
  // (a row read from a multi-piece source may pass through two full-width buffers)
  const uint64_t row_cost =
      bf16_direct ? uint64_t(w) * oes
                  : 2 * rd.row_read_bytes() + uint64_t(w) * (r.decode == Decode::Raw ? 0 : 8) + uint64_t(w) * oes;
  const uint64_t budget = bf16_direct ? std::min(job.chunk_bytes, kMaxTransposedChunkBytes)
                          : r.transpose ? job.chunk_bytes : std::min(job.chunk_bytes, kMaxRowChunkBytes);
  const int64_t step = chunk_rows_for(budget, row_cost, re - rb);
  const int64_t stage = stage_rows(w, r.transpose, step);
  std::vector<uint8_t>& out = job.scratch.out;
  out.resize(size_t(uint64_t(step) * uint64_t(w) * oes));
  if (job.scratch.stages.empty()) job.scratch.stages.resize(1);
  const bool lossy = r.encode == Encode::Fp8Weight ||
                     (r.encode == Encode::BF16 && (r.decode == Decode::Float || r.decode == Decode::Fp8) &&
                      r.src_dtype != DType::BF16);
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
      G2_TRY(rd.read_raw(r0, r1, cb, ce, out.data(), job.scratch.stages[0].read));
    } else if (bf16_direct) {
      // parts: blocks of output columns (= source rows), each read as whole runs
      auto* o = reinterpret_cast<uint16_t*>(out.data());
      Status st =
          run_parts(job.pool, job.scratch, int(ceil_div(w, kTransposedPartRows)), [&](int p, int, StageScratch& ss) {
            const int64_t k0 = cb + p * kTransposedPartRows, k1 = std::min(ce, k0 + kTransposedPartRows);
            return rd.read_bf16_transposed(r0, r1, k0, k1, o + (k0 - cb), w, ss.read);
          });
      if (!st.ok()) return st;
    } else {
      // parts: stages of rows, each decoded and encoded into its place in `out`
      const int parts = int(ceil_div(r1 - r0, stage));
      std::vector<QuantError> errs(lossy ? size_t(parts) : 0);
      Status st = run_parts(job.pool, job.scratch, parts, [&](int p, int, StageScratch& ss) -> Status {
        const int64_t s0 = r0 + p * stage, s1 = std::min(r1, s0 + stage), sn = (s1 - s0) * w, at = (s0 - r0) * w;
        ss.vals.resize(size_t(stage * w));
        if (lossy) ss.back.resize(size_t(stage * w));
        float* vals = ss.vals.data();
        float* back = lossy ? ss.back.data() : nullptr;
        G2_TRY(rd.read_f32(s0, s1, cb, ce, vals, ss.read));
        switch (r.encode) {
          case Encode::BF16:
            encode_bf16_run(vals, size_t(sn), reinterpret_cast<uint16_t*>(out.data()) + at, back);
            break;
          case Encode::F32: std::memcpy(out.data() + size_t(at) * 4, vals, size_t(sn) * 4); break;
          case Encode::Fp8Weight:
            fp8_quantize_rect(*fp8, s0, s1 - s0, cb, w, vals, out.data() + at);
            fp8_dequantize_rect(*fp8, s0, s1 - s0, cb, w, out.data() + at, back);
            break;
          default: return unsupported(job.t.name + ": unsupported encode for a decoded tensor");
        }
        if (lossy) errs[size_t(p)].add(vals, back, size_t(sn));
        return Status::Ok();
      });
      if (!st.ok()) return st;
      // merged in part order: the sums the sequential loop formed, stage after stage
      for (const QuantError& e : errs) err.merge(e);
    }
    rd.release(r0, r1, cb, ce);
    const uint64_t nb = uint64_t(n) * oes;
    G2_TRY(sink(as_bytes(out.data(), nb)));
    written += nb;
  }
  if (job.t.shape.empty() && written == 0) G2_TRY(sink(as_bytes(out.data(), 0)));
  G2_ASSERT(written == job.t.bytes, "produced bytes disagree with the plan");
  if (fp8) job.scales.done(r.logical);
  if (lossy) job.stats.add(r.logical, lossy_what(r), r.begin, err);
  return Status::Ok();
}

}  // namespace g2
