#include "libmodel/cpu_pool.h"

namespace g2 {

CpuPool::CpuPool(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

CpuPool::~CpuPool() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  start_.notify_all();
  for (auto& t : workers_) t.join();
}

void CpuPool::run(int parts, const std::function<void(int)>& fn) {
  if (parts <= 0) return;
  if (workers_.empty() || parts == 1) {
    for (int p = 0; p < parts; ++p) fn(p);
    return;
  }
  std::unique_lock<std::mutex> l(mu_);
  fn_ = &fn;
  parts_ = parts;
  next_ = 0;
  finished_ = 0;
  ++generation_;
  start_.notify_all();
  // The caller takes parts too.
  while (next_ < parts_) {
    const int p = next_++;
    l.unlock();
    fn(p);
    l.lock();
    ++finished_;
  }
  done_.wait(l, [&] { return finished_ == parts_; });
  fn_ = nullptr;
}

void CpuPool::work() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    start_.wait(l, [&] { return stop_ || (generation_ != seen && fn_ && next_ < parts_); });
    if (stop_) return;
    seen = generation_;
    while (fn_ && next_ < parts_) {
      const int p = next_++;
      const auto* fn = fn_;
      l.unlock();
      (*fn)(p);
      l.lock();
      if (++finished_ == parts_) done_.notify_all();
    }
  }
}

}  // namespace g2
