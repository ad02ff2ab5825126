// gnet/file.hpp — a file read and written at explicit offsets, without blocking a loop.
//
// Disk I/O does not fit readiness (a regular file is always "ready", and a read may still
// block on the disk), and a shared file position is a race between concurrent operations (the
// lesson libuv's author draws in ../seeds: every operation names its offset). So a File has no
// position: read_at/write_at say where, run pread/pwrite on a worker pool, and hand the result
// back to the loop that asked, as libuv's uv_fs_read/uv_fs_write do on its thread pool. Called
// on an io_uring loop's own thread, the loop's ring reads or writes at the offset instead (no
// pool, no thread hop).
//
//   auto file = gnet::File::open("/var/data/blob", {.flags = O_RDONLY | O_CLOEXEC});
//   file->read_at(conn.loop(), 4096, std::span(buffer), [](gnet::Result<std::size_t> n) {
//     // on conn's loop thread: *n bytes landed in buffer (fewer only at end of file)
//   });
//
// Thread rule: every method is safe from any thread; a completion runs on the loop passed to
// the call, on that loop's thread, never before the call returns. The caller's buffer must stay
// valid and untouched until then. A stopping loop waits for the operations it is to answer, up
// to Options::shutdown_timeout; past that deadline a completion is destroyed unrun, and an
// operation still running may touch the buffer until it ends.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "gnet/error.hpp"
#include "gnet/loop.hpp"

namespace gnet {

class WorkerPool;

struct FileOptions {
  // open(2) flags and mode. O_CLOEXEC is always added; O_DIRECT through `direct`.
  int flags = O_RDWR | O_CREAT;
  mode_t mode = 0644;
  // Bypass the page cache (O_DIRECT). Buffers, offsets and lengths must then be multiples of
  // direct_alignment() (aligned_buffer() gives such memory); an operation that is not is
  // refused with std::errc::invalid_argument before it reaches the kernel. A filesystem that
  // refuses O_DIRECT makes open() fail with a message that says so.
  bool direct = false;
  // Where pread/pwrite run. nullptr: a process-wide pool of 4 threads (libuv's default thread
  // pool size), started on first use. The pool must outlive the file's operations.
  WorkerPool* pool = nullptr;
};

// Memory aligned for O_DIRECT (to the page size, which every filesystem accepts).
struct AlignedFree {
  void operator()(char* p) const noexcept;
};
using AlignedBuffer = std::unique_ptr<char[], AlignedFree>;
AlignedBuffer aligned_buffer(std::size_t size);

class File {
 public:
  // What a completion receives: the bytes transferred, or the error (errno named).
  using Done = UniqueFunction<void(Result<std::size_t>)>;

  // Opens (and with O_CREAT creates) path. Blocking metadata call: do it at start-up or on a
  // worker, not inside a loop callback on a slow filesystem.
  static Result<File> open(const std::string& path, FileOptions options = {});

  File() = default;
  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;
  ~File() = default;  // the descriptor closes once the last operation in flight has finished

  // Reads into `into` from `offset`, up to into.size() bytes: fewer only at end of file (0 at
  // or past it). A short read from the kernel is continued, not reported.
  void read_at(Loop& loop, std::uint64_t offset, std::span<char> into, Done done) const;
  // Writes all of `from` at `offset` (a short write from the kernel is continued), or reports
  // the error that stopped it (ENOSPC, EFBIG, ...). Bytes before the error may have landed.
  void write_at(Loop& loop, std::uint64_t offset, std::span<const char> from, Done done) const;

  // Bytes in the file now (fstat). Any thread; a blocking metadata call.
  Result<std::uint64_t> size() const;
  // Buffer, offset and length granularity for a direct file (1 when not direct).
  std::size_t direct_alignment() const noexcept;
  // The descriptor (its own file position is never used or moved by read_at/write_at).
  int native_handle() const noexcept;
  bool is_open() const noexcept { return state_ != nullptr; }

 private:
  struct State;
  void submit(Loop& loop, bool write, std::uint64_t offset, char* data, std::size_t length, Done done) const;
  std::shared_ptr<State> state_;
};

}  // namespace gnet
