// WorkPool: every part runs exactly once, on the caller or a helper; participant ids stay in
// [0, max_participants) and are never shared by two threads running parts of one call at the
// same time, also when several threads call run() at once; a pool without helpers is a loop.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "kernels/cpu/work_pool.h"

namespace g2 {
namespace {

TEST(WorkPool, EveryPartOnceWithExclusiveParticipants) {
  for (int helpers : {0, 1, 3}) {
    WorkPool pool(helpers);
    ASSERT_EQ(pool.max_participants(), helpers + 1);
    constexpr int kCallers = 4, kParts = 200;
    std::vector<std::thread> callers;
    std::atomic<int> failures{0};
    for (int c = 0; c < kCallers; ++c)
      callers.emplace_back([&] {
        for (int round = 0; round < 20; ++round) {
          std::vector<std::atomic<int>> runs(kParts);
          std::vector<std::atomic<int>> busy(size_t(pool.max_participants()));
          const std::thread::id me = std::this_thread::get_id();
          pool.run(kParts, [&](int part, int who) {
            if (who < 0 || who >= pool.max_participants()) ++failures;
            if (who == 0 && std::this_thread::get_id() != me) ++failures;  // 0 is the caller
            if (busy[size_t(who)].fetch_add(1) != 0) ++failures;           // one thread per id at a time
            runs[size_t(part)].fetch_add(1);
            std::this_thread::yield();
            busy[size_t(who)].fetch_sub(1);
          });
          for (auto& r : runs)
            if (r.load() != 1) ++failures;
        }
      });
    for (auto& t : callers) t.join();
    EXPECT_EQ(failures.load(), 0) << helpers << " helpers";
  }
}

TEST(WorkPool, HelpersTakeParts) {
  // With parts that wait for each other, the call only finishes if a helper runs some of them.
  WorkPool pool(1);
  std::atomic<int> started{0};
  std::atomic<bool> helper_ran{false};
  pool.run(2, [&](int, int who) {
    if (who != 0) helper_ran = true;
    ++started;
    while (started.load() < 2) std::this_thread::yield();
  });
  EXPECT_TRUE(helper_ran.load());
}

}  // namespace
}  // namespace g2
