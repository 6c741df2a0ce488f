// Helper threads that let one large job use every core. The converter's file workers (and
// g2synth's writers) split a row chunk into parts and run them here, so both cores work on one
// file instead of one core per file (a model's largest files, and FP8 scales that every
// shard of a tensor waits for, left the other cores idle). The caller always runs parts of
// its own call, so a pool without helpers runs everything on the calling thread.
// The CPU backend runs its matmul rows, attention tokens and stored-weight dequantisation on
// the same pool (libmodel/cpu_backend.cc).
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace g2 {

class WorkPool {
 public:
  // `helpers` extra threads (0: run() is a plain loop on the caller).
  explicit WorkPool(int helpers);
  // The cores the machine reports (at least 1): the default thread count of the tools.
  static int cores();
  // Helpers that make the caller plus the pool one thread per core the machine reports.
  static int all_core_helpers() { return cores() - 1; }
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Distinct `participant` values a run() may pass to fn: the caller is 0, helpers 1..helpers.
  int max_participants() const { return int(helpers_.size()) + 1; }

  // fn(part, participant) for every part in [0, parts); returns when all are finished. Several
  // threads may call run() at once (each call is its own job; an idle helper joins the oldest
  // job that has parts left and stays with it until they are all taken). `participant` is
  // unique among the threads running parts of the same call, so it can index per-thread
  // scratch that the caller owns. Parts must not throw.
  void run(int parts, const std::function<void(int part, int participant)>& fn);

 private:
  struct Job {
    const std::function<void(int, int)>* fn;
    int parts, next = 0, finished = 0, joined = 0;
    std::condition_variable done;
  };
  void work();
  // Takes the next part of `j` (the lock held); drops `j` from the queue when it was the last.
  int take(Job& j);

  std::vector<std::thread> helpers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job*> queue_;  // calls with parts not yet taken, oldest first
  bool stop_ = false;
};

}  // namespace g2
