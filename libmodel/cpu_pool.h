// A fixed set of worker threads for the CPU backend's fused matmul (one call splits the
// output rows of one weight over the workers). run() blocks until every part is done; parts
// run on the calling thread plus the workers. Not reentrant: one run at a time per pool.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace g2 {

class CpuPool {
 public:
  // threads <= 0: std::thread::hardware_concurrency(). The caller counts as one thread.
  explicit CpuPool(int threads = 0);
  ~CpuPool();
  CpuPool(const CpuPool&) = delete;
  CpuPool& operator=(const CpuPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }
  // fn(part) for part in [0, parts), spread over the threads; returns when all are done.
  void run(int parts, const std::function<void(int)>& fn);

 private:
  void work();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_, done_;
  const std::function<void(int)>* fn_ = nullptr;
  int parts_ = 0, next_ = 0, finished_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace g2
