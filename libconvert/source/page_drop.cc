#include "libconvert/source/page_drop.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <utility>

namespace g2 {

namespace {

// Whether an address lies in a file-backed mapping (so dropping its pages only costs a
// re-read). Anonymous memory must never be dropped: MADV_DONTNEED would zero it.
class FileMappings {
 public:
  // `start`, when given, receives the start of the mapping holding p.
  bool file_backed(const void* p, uintptr_t* start = nullptr) {
    const auto a = reinterpret_cast<uintptr_t>(p);
    std::lock_guard<std::mutex> lk(mu_);
    for (int pass = 0; pass < 2; ++pass) {
      auto it = ranges_.upper_bound(a);
      if (it != ranges_.begin()) {
        --it;
        if (a < it->second.first) {
          if (start) *start = it->first;
          return it->second.second;
        }
      }
      if (pass == 0) reload();
    }
    return false;
  }

 private:
  void reload() {
    ranges_.clear();
    FILE* f = std::fopen("/proc/self/maps", "r");
    if (!f) return;
    char line[4096];
    while (std::fgets(line, sizeof line, f)) {
      unsigned long lo, hi, off, inode;
      char perms[8], dev[16];
      if (std::sscanf(line, "%lx-%lx %7s %lx %15s %lu", &lo, &hi, perms, &off, dev, &inode) == 6)
        ranges_[lo] = {hi, inode != 0};
    }
    std::fclose(f);
  }
  std::mutex mu_;
  std::map<uintptr_t, std::pair<uintptr_t, bool>> ranges_;
};

FileMappings& file_mappings() {
  static FileMappings m;
  return m;
}

}  // namespace

void drop_pages(const void* p, size_t n) {
  if (n == 0 || !file_mappings().file_backed(p)) return;
  static const uintptr_t pg = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t a = reinterpret_cast<uintptr_t>(p) & ~(pg - 1);
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + n + pg - 1) & ~(pg - 1);
  ::madvise(reinterpret_cast<void*>(a), e - a, MADV_DONTNEED);
}

void drop_pages_behind(const void* p, size_t n, size_t behind) {
  uintptr_t start = 0;
  if (n == 0 || !file_mappings().file_backed(p, &start)) return;
  const uintptr_t a =
      std::max(start, reinterpret_cast<uintptr_t>(p) - std::min<uintptr_t>(behind, reinterpret_cast<uintptr_t>(p)));
  drop_pages(reinterpret_cast<const void*>(a), size_t(reinterpret_cast<uintptr_t>(p) + n - a));
}

void drop_whole_pages(const void* p, size_t n) {
  static const uintptr_t pg = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t a = reinterpret_cast<uintptr_t>(p) & ~(pg - 1);
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + n) & ~(pg - 1);
  if (e > a) drop_pages(reinterpret_cast<const void*>(a), e - a);
}

}  // namespace g2
