// memory_return.cpp — see memory_return.hpp.
#include "memory_return.hpp"

#include <malloc.h>

#if defined(__SANITIZE_ADDRESS__)
#define WS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WS_ASAN 1
#endif
#endif

#ifdef WS_ASAN
// <sanitizer/allocator_interface.h> (not shipped with GCC): releases the quarantine and the
// allocator's free memory to the kernel.
extern "C" void __sanitizer_purge_allocator();
#endif

namespace ws {

void return_free_memory() noexcept {
  malloc_trim(0);
#ifdef WS_ASAN
  __sanitizer_purge_allocator();
#endif
}

}  // namespace ws
