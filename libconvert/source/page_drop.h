// Dropping pages of read-only file mappings from the resident set once the executor has
// consumed them (the source stays in the page cache; only this process's mapping of it goes).
// Only file-backed mappings are touched: MADV_DONTNEED on anonymous memory would zero it.
#pragma once
#include <cstddef>

namespace g2 {

// The resident pages covering [p, p + n), if p lies in a file-backed mapping.
void drop_pages(const void* p, size_t n);

// The pages behind [p, p + n) and up to `behind` bytes before it, within the same mapping.
// A chunk read or written through the mapping faults in whole large page-cache folios (up to
// 2 MiB on ext4, Linux 6.x), including the part before p that an earlier chunk already
// consumed and dropped: without the look-behind those pages stayed mapped until the whole
// tensor was released, so small chunks over a large tensor held tens of MiB (bench/NOTES.md).
inline constexpr size_t kLookBehind = size_t(2) << 20;  // the largest page-cache folio
void drop_pages_behind(const void* p, size_t n, size_t behind);

// Only the pages that end inside [p, p + n). The transposed read takes a slice of every
// source row per chunk, often narrower than a page: dropping the covering pages then threw
// away bytes the next chunk still needed (faulted straight back in) and cost one madvise per
// source row per chunk (305,159 calls on a 0.27 GiB Grok-1 upgrade, bench/NOTES.md). The
// bytes before p in the first page were consumed by earlier chunks (ascending rows), or belong
// to the previous source row's tail (then only faulted back in, never wrong).
void drop_whole_pages(const void* p, size_t n);

}  // namespace g2
