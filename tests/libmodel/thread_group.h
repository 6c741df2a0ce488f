// One CPU thread per TP rank (tests only): ThreadGroup is the group's all-reduce (a barrier,
// then the ranks' partials summed in rank order 0..n-1, the order the single-process
// rank-by-rank forward adds them in), ThreadRankBackend the CPU backend that uses it. The
// one-process-per-GPU paths (ForwardOptions::only_rank, the --dist self-check and verdict)
// run on the CPU with them exactly as NCCL drives them on GPUs.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "delegating_backend.h"
#include "libconvert/status.h"
#include "libmodel/stored_weight.h"

namespace g2::testing {

// The TP group of `n` worker threads: a reusable barrier plus each rank's published array.
class ThreadGroup {
 public:
  explicit ThreadGroup(int n) : n_(n), slots_(size_t(n)) {}

  // x[len] = x_0 + x_1 + ... + x_{n-1} (left to right), identical on every rank.
  Status all_reduce_sum(int rank, float* x, size_t len) {
    slots_[size_t(rank)] = {x, len};
    G2_TRY(barrier());
    for (const auto& s : slots_)
      if (s.len != len) return invalid("all_reduce_sum: ranks disagree on the length");
    std::vector<float> sum(len);  // [len]
    for (size_t j = 0; j < len; ++j) {
      float acc = slots_[0].x[j];
      for (int r = 1; r < n_; ++r) acc += slots_[size_t(r)].x[j];
      sum[j] = acc;
    }
    G2_TRY(barrier());  // every rank has read every input before anyone overwrites its own
    std::copy(sum.begin(), sum.end(), x);
    return Status::Ok();
  }
  // A rank that leaves (done or failed) breaks the barrier, so the others fail instead of hanging.
  void leave() {
    std::lock_guard<std::mutex> lk(m_);
    broken_ = true;
    cv_.notify_all();
  }

 private:
  Status barrier() {
    std::unique_lock<std::mutex> lk(m_);
    const uint64_t gen = gen_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++gen_;
      cv_.notify_all();
      return Status::Ok();
    }
    if (!cv_.wait_for(lk, std::chrono::seconds(60), [&] { return gen_ != gen || broken_; }) || gen_ == gen)
      return invalid("all_reduce_sum: another rank left the group or timed out");
    return Status::Ok();
  }
  struct Slot {
    float* x = nullptr;
    size_t len = 0;
  };
  const int n_;
  std::vector<Slot> slots_;
  std::mutex m_;
  std::condition_variable cv_;
  int arrived_ = 0;
  uint64_t gen_ = 0;
  bool broken_ = false;
};

// The CPU backend with the group's all-reduce: everything else is delegated unchanged.
class ThreadRankBackend : public DelegatingBackend {
 public:
  ThreadRankBackend(ThreadGroup* g, int rank) : g_(g), rank_(rank) {}
  std::string_view name() const override { return "cpu-thread-rank"; }
  Status all_reduce_sum(float* x, size_t n) override {
    ++reduces;
    return g_->all_reduce_sum(rank_, x, n);
  }
  void abandon_group() override { g_->leave(); }
  void matmul_stored(const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T, bool acc) override {
    view_elements += w.rows * w.cols;
    DelegatingBackend::matmul_stored(x, ldx, w, y, ldy, T, acc);
  }
  int reduces = 0;
  int64_t view_elements = 0;  // weight elements multiplied through stored views

 private:
  ThreadGroup* g_;
  int rank_;
};

}  // namespace g2::testing
