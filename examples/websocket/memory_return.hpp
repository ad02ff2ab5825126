// memory_return.hpp — hand freed heap memory back to the kernel.
//
// When a crowd of members that did not read leaves, their queues (megabytes each) go back to
// the allocator, and glibc keeps those pages: it returns only the free space at the top of a
// heap, and queue blocks freed in the middle stay resident. Measured on the broadcast example:
// 20 non-readers capped at 4 MiB each, then gone, still held 87 MiB of RSS; after
// malloc_trim(0), 16 MiB (most of it the library's block pools, 4 MiB per loop).
#pragma once

namespace ws {

// malloc_trim(0): every arena's free pages go back to the kernel. Under AddressSanitizer the
// allocator is ASan's own (malloc_trim does nothing to it), so its quarantine and free memory
// are purged instead; that keeps the behaviour the tests measure the same in both builds.
// Costs a walk over the heap: call it after big releases, not per connection.
void return_free_memory() noexcept;

}  // namespace ws
