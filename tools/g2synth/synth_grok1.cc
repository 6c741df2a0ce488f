// g2synth --format grok1-jax: every tensor of grok1_layout() as the release stores it:
// f32 embedding / norms / router, int8 linears with bf16 scales quantised from f32 values.
// Plain arrays stream in row chunks (synth_rows.h). A quantised [E, K, N] weight is made one
// expert at a time in column bands: a band [K, nb] holds every value its scales depend on (a
// scale covers K / G rows of one column), so each value is generated once, and the bands run
// on every core; memory is one expert's int8 plus a band per thread, not the f32 tensor.
#include <algorithm>
#include <filesystem>
#include <map>

#include "kernels/codecs.h"
#include "libconvert/format/grok1_source.h"
#include "libconvert/format/grok1_writer.h"
#include "tools/g2synth/synth.h"
#include "tools/g2synth/synth_rows.h"
#include "tools/g2synth/synth_values.h"

namespace g2::synth {

namespace {

Status write_array(const std::string& path, const TensorSpec& s, uint64_t seed, WorkPool& pool) {
  if (s.dtype != DType::F32) return unsupported(s.name + ": g2synth writes plain Grok-1 tensors as F32 only");
  auto w = Grok1FileWriter::create(path, false);
  if (!w) return w.error();
  G2_TRY(w->begin_array(DType::F32, s.shape));
  const Distribution d = distribution(s, Family::Grok1);
  const uint64_t key = value_key(seed, s.name);
  const int64_t cols = s.shape.empty() ? 1 : s.shape.back();
  const int64_t rows = int64_t(*checked_numel(s.shape)) / std::max<int64_t>(cols, 1);
  G2_TRY(write_rows(
      pool, rows, uint64_t(cols) * 4,
      [&](int64_t a, int64_t b, uint8_t* out, int) {
        fill_keyed(key, d, uint64_t(a * cols), uint64_t((b - a) * cols), reinterpret_cast<float*>(out));
      },
      [&](std::span<const uint8_t> bytes) { return w->write(bytes); }));
  G2_TRY(w->end_array());
  return w->finish();
}

// [E, K, N] or [K, N] weight `s` with its [E, G, N] or [G, N] scales `sc`.
Status write_quantized(const std::string& path, const TensorSpec& s, const TensorSpec& sc, uint64_t seed,
                       WorkPool& pool, Scratch& scratch) {
  const int r = int(s.shape.size());
  const int64_t E = r == 3 ? s.shape[0] : 1, K = s.shape[size_t(r - 2)], N = s.shape[size_t(r - 1)];
  const int G = int(sc.shape[size_t(r - 2)]);
  if (K % G != 0)
    return invalid(s.name + ": " + std::to_string(G) + " scale groups do not divide " + std::to_string(K));
  const Distribution d = distribution(s, Family::Grok1);
  const uint64_t key = value_key(seed, s.name);
  // band width: ~2 MiB of f32 per band, at least 16 columns (runs of 64 bytes)
  const int64_t nb = std::clamp<int64_t>((int64_t(1) << 19) / K, 16, N);
  const int bands = int((N + nb - 1) / nb);
  std::vector<int8_t> q(size_t(K * N));
  std::vector<uint16_t> scales(size_t(E * G * N));
  std::vector<std::vector<int8_t>> qband(size_t(pool.max_participants()));
  std::vector<std::vector<uint16_t>> sband(size_t(pool.max_participants()));
  auto w = Grok1FileWriter::create(path, true);
  if (!w) return w.error();
  G2_TRY(w->begin_array(DType::I8, s.shape));
  for (int64_t e = 0; e < E; ++e) {
    pool.run(bands, [&](int band, int participant) {
      const int64_t n0 = band * nb, n1 = std::min(N, n0 + nb), bw = n1 - n0;
      std::vector<float>& f = scratch.at(participant);
      std::vector<int8_t>& qb = qband[size_t(participant)];
      std::vector<uint16_t>& sb = sband[size_t(participant)];
      f.resize(size_t(K * bw));
      qb.resize(size_t(K * bw));
      sb.resize(size_t(G * bw));
      for (int64_t k = 0; k < K; ++k)
        fill_keyed(key, d, uint64_t((e * K + k) * N + n0), uint64_t(bw), f.data() + k * bw);
      grok1_quantize(f.data(), 1, K, bw, G, qb.data(), sb.data());  // the band is a [K, bw] matrix of its own
      for (int64_t k = 0; k < K; ++k) std::copy_n(qb.data() + k * bw, bw, q.data() + k * N + n0);
      for (int g = 0; g < G; ++g) std::copy_n(sb.data() + g * bw, bw, scales.data() + (e * G + g) * N + n0);
    });
    G2_TRY(w->write({reinterpret_cast<const uint8_t*>(q.data()), q.size()}));
  }
  G2_TRY(w->end_array());
  G2_TRY(w->begin_array(DType::BF16, sc.shape));
  G2_TRY(w->write({reinterpret_cast<const uint8_t*>(scales.data()), scales.size() * 2}));
  G2_TRY(w->end_array());
  return w->finish();
}

}  // namespace

Status write_grok1(const ModelConfig& c, uint64_t seed, const std::string& out, WorkPool& pool) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(out) / "ckpt-0", ec);
  if (ec) return io_error(out + "/ckpt-0: cannot create: " + ec.message());
  const std::vector<TensorSpec> layout = grok1_layout(c);
  std::map<int, std::vector<const TensorSpec*>> files;  // file index -> [tensor] or [w, scales]
  for (const auto& s : layout) files[s.file_group].push_back(&s);
  Scratch scratch(pool);
  for (const auto& [index, specs] : files) {
    const std::string path = grok1_tensor_path(out, index);
    if (specs.size() == 1) G2_TRY(write_array(path, *specs[0], seed, pool));
    else G2_TRY(write_quantized(path, *specs[0], *specs[1], seed, pool, scratch));
  }
  return write_file_atomic((std::filesystem::path(out) / "config.json").string(), model_config_to_json(c));
}

}  // namespace g2::synth
