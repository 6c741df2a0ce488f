// A test backend that hands every op to a CPU backend: tests derive from it and override
// only the op they change (a fault to inject, an all-reduce to provide), instead of
// restating the whole Backend interface each time.
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "libmodel/backend.h"

namespace g2 {

class DelegatingBackend : public Backend {
 public:
  DelegatingBackend() : cpu_(make_cpu_backend()) {}
  BackendBuffer alloc(size_t n) override { return cpu_->alloc(n); }
  void upload(float* d, const float* s, size_t n) override { cpu_->upload(d, s, n); }
  void download(float* d, const float* s, size_t n) override { cpu_->download(d, s, n); }
  BackendBuffer from_host(std::vector<float>&& h) override { return cpu_->from_host(std::move(h)); }
  void matmul(const float* x, int ldx, const float* w, int ldw, float* y, int ldy, int T, int N, int K,
              bool acc) override {
    cpu_->matmul(x, ldx, w, ldw, y, ldy, T, N, K, acc);
  }
  void matmul_stored(const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T, bool acc) override {
    cpu_->matmul_stored(x, ldx, w, y, ldy, T, acc);
  }
  void rmsnorm(const float* x, const float* s, float* y, int T, int H, float eps) override {
    cpu_->rmsnorm(x, s, y, T, H, eps);
  }
  void rope(float* x, int T, int nh, int hd, int pos0, float theta) override { cpu_->rope(x, T, nh, hd, pos0, theta); }
  void attention(const float* q, const float* k, const float* v, float* out, const AttentionParams& p) override {
    cpu_->attention(q, k, v, out, p);
  }
  void router(float* l, int T, int E, int k, float cap, int32_t* idx, float* gate) override {
    cpu_->router(l, T, E, k, cap, idx, gate);
  }
  void add(float* y, const float* x, size_t n) override { cpu_->add(y, x, n); }
  void scale(float* x, size_t n, float s) override { cpu_->scale(x, n, s); }
  void round_bf16(float* x, size_t n) override { cpu_->round_bf16(x, n); }
  void softcap(float* x, size_t n, float cap) override { cpu_->softcap(x, n, cap); }
  void gelu_mul(const float* g, const float* u, float* out, size_t n, GeluKind k, bool r) override {
    cpu_->gelu_mul(g, u, out, n, k, r);
  }
  void gather_rows(const float* s, const int32_t* rows, int n, int H, float* d) override {
    cpu_->gather_rows(s, rows, n, H, d);
  }
  void scatter_rows(const float* s, const int32_t* rows, int n, int H, float* d) override {
    cpu_->scatter_rows(s, rows, n, H, d);
  }
  void combine_topk(const float* s, const float* gate, int T, int k, int H, float* out, bool r) override {
    cpu_->combine_topk(s, gate, T, k, H, out, r);
  }

 protected:
  std::unique_ptr<Backend> cpu_;
};

}  // namespace g2
