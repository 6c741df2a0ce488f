#include "kernels/cpu/work_pool.h"

#include <algorithm>

namespace g2 {

WorkPool::WorkPool(int helpers) {
  for (int i = 0; i < helpers; ++i) helpers_.emplace_back([this] { work(); });
}

int WorkPool::cores() { return int(std::max(1u, std::thread::hardware_concurrency())); }

WorkPool::~WorkPool() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : helpers_) t.join();
}

int WorkPool::take(Job& j) {
  const int p = j.next++;
  if (j.next == j.parts) queue_.erase(std::find(queue_.begin(), queue_.end(), &j));
  return p;
}

void WorkPool::run(int parts, const std::function<void(int, int)>& fn) {
  if (parts <= 0) return;
  if (helpers_.empty() || parts == 1) {
    for (int p = 0; p < parts; ++p) fn(p, 0);
    return;
  }
  Job j{&fn, parts};
  std::unique_lock<std::mutex> l(mu_);
  queue_.push_back(&j);
  if (parts - 1 >= int(helpers_.size())) wake_.notify_all();
  else for (int i = 0; i < parts - 1; ++i) wake_.notify_one();
  while (j.next < j.parts) {
    const int p = take(j);
    l.unlock();
    fn(p, 0);
    l.lock();
    ++j.finished;
  }
  j.done.wait(l, [&] { return j.finished == j.parts; });
}

void WorkPool::work() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    wake_.wait(l, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Job& j = *queue_.front();
    const int me = ++j.joined;  // joins once: it leaves only when no part is left to take
    while (j.next < j.parts) {
      const int p = take(j);
      l.unlock();
      (*j.fn)(p, me);
      l.lock();
      // the caller may return (and destroy j) as soon as the last part is counted
      if (++j.finished == j.parts) {
        j.done.notify_all();
        break;
      }
    }
  }
}

}  // namespace g2
