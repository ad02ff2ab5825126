// gnet::File: pread/pwrite on a worker pool, completions posted to the asking loop's mailbox;
// or, on an io_uring loop and from its own thread, reads and writes on the loop's ring.
#include "gnet/file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <atomic>
#include <cstdlib>
#include <string>

#include "gnet/worker_pool.hpp"
#include "loop/event_loop.hpp"

namespace gnet {

namespace {

std::size_t page_size() noexcept {
  static const std::size_t size = [] {
    long p = ::sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<std::size_t>(p) : std::size_t{4096};
  }();
  return size;
}

// libuv's lesson: disk work runs on a small shared pool unless the user brings one. Bounded:
// an operation that finds its queue full is refused, never waited for on a loop thread.
constexpr std::size_t kDefaultThreads = 4;
constexpr std::size_t kDefaultQueue = 4096;

WorkerPool& default_pool() {
  static WorkerPool pool(kDefaultThreads, kDefaultQueue);
  return pool;
}

}  // namespace

void AlignedFree::operator()(char* p) const noexcept { std::free(p); }

AlignedBuffer aligned_buffer(std::size_t size) {
  const std::size_t page = page_size();
  std::size_t rounded = (size + page - 1) / page * page;
  if (rounded == 0) rounded = page;
  auto* p = static_cast<char*>(std::aligned_alloc(page, rounded));
  if (p == nullptr) throw std::bad_alloc();
  return AlignedBuffer(p);
}

struct File::State {
  int fd = -1;
  bool direct = false;
  std::string path;
  WorkerPool* pool = nullptr;
  ~State() {
    if (fd >= 0) ::close(fd);
  }
};

Result<File> File::open(const std::string& path, FileOptions options) {
  int flags = options.flags | O_CLOEXEC | (options.direct ? O_DIRECT : 0);
  int fd;
  do {
    fd = ::open(path.c_str(), flags, options.mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int err = errno;
    if (options.direct && err == EINVAL) {
      return Error(std::error_code(err, std::system_category()),
                   "open " + path + " with O_DIRECT: this filesystem refuses direct I/O");
    }
    return system_error(err, "open " + path);
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Error(std::make_error_code(std::errc::is_a_directory), "open " + path + ": is a directory");
  }
  File file;
  file.state_ = std::make_shared<State>();
  file.state_->fd = fd;
  file.state_->direct = options.direct;
  file.state_->path = path;
  file.state_->pool = options.pool != nullptr ? options.pool : &default_pool();
  return file;
}

int File::native_handle() const noexcept { return state_ ? state_->fd : -1; }

std::size_t File::direct_alignment() const noexcept { return state_ && state_->direct ? page_size() : 1; }

Result<std::uint64_t> File::size() const {
  if (!state_) return Error(std::make_error_code(std::errc::bad_file_descriptor), "size: file not open");
  struct stat st {};
  if (::fstat(state_->fd, &st) != 0) return system_error(errno, "fstat " + state_->path);
  return static_cast<std::uint64_t>(st.st_size);
}

void File::read_at(Loop& loop, std::uint64_t offset, std::span<char> into, Done done) const {
  submit(loop, false, offset, into.data(), into.size(), std::move(done));
}

void File::write_at(Loop& loop, std::uint64_t offset, std::span<const char> from, Done done) const {
  // pwrite only reads the memory; the one code path takes a char* for both directions.
  submit(loop, true, offset, const_cast<char*>(from.data()), from.size(), std::move(done));
}

static std::string failure(const char* op, const std::string& path, std::uint64_t at) {
  return std::string(op) + " " + path + " at " + std::to_string(at);
}

// Runs on a worker: the whole transfer, continuing short reads and writes, as one result.
static Result<std::size_t> transfer(const std::string& path, int fd, bool write, std::uint64_t offset, char* data,
                                    std::size_t length) {
  std::size_t done = 0;
  while (done < length) {
    ssize_t n = write ? ::pwrite(fd, data + done, length - done, static_cast<off_t>(offset + done))
                      : ::pread(fd, data + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return system_error(errno, failure(write ? "pwrite" : "pread", path, offset + done));
    }
    if (n == 0) {
      if (!write) break;  // end of file
      return Error(std::make_error_code(std::errc::io_error), "pwrite " + path + ": wrote nothing");
    }
    done += static_cast<std::size_t>(n);
  }
  return done;
}

void File::submit(Loop& loop, bool write, std::uint64_t offset, char* data, std::size_t length, Done done) const {
  auto& event_loop = static_cast<detail::EventLoop&>(loop);
  std::shared_ptr<detail::Mailbox> mailbox = event_loop.mailbox();
  std::atomic<int>* in_flight = &event_loop.file_ops();
  in_flight->fetch_add(1, std::memory_order_acq_rel);
  // Every answer, including a refusal, reaches the loop as a task: never inside this call. The
  // count drops on the loop thread, so a stopping loop still runs it (and may then finish).
  auto answer = [mailbox, in_flight](Done&& fn, Result<std::size_t>&& result) {
    mailbox->post([fn = std::move(fn), result = std::move(result), in_flight]() mutable {
      in_flight->fetch_sub(1, std::memory_order_acq_rel);
      fn(std::move(result));
    }, false);
  };
  const char* op = write ? "write_at" : "read_at";
  if (!state_) {
    answer(std::move(done), Error(std::make_error_code(std::errc::bad_file_descriptor), std::string(op) + ": file not open"));
    return;
  }
  if (state_->direct) {
    const std::size_t align = page_size();
    if (offset % align != 0 || length % align != 0 || reinterpret_cast<std::uintptr_t>(data) % align != 0) {
      answer(std::move(done),
             Error(std::make_error_code(std::errc::invalid_argument),
                   std::string(op) + " " + state_->path + ": O_DIRECT needs buffer, offset and length aligned to " +
                       std::to_string(align) + " bytes (see aligned_buffer)"));
      return;
    }
  }
  std::shared_ptr<State> state = state_;  // keeps the descriptor open until the operation is done

  // On a completion backend, from the loop's own thread: the loop's ring reads or writes at the
  // offset itself, and the answer needs no thread hop.
  if (loop.in_loop_thread() && event_loop.driver().does_file_io()) {
    auto request = std::make_unique<detail::FileRequest>();
    request->fd = state->fd;
    request->write = write;
    request->offset = offset;
    request->data = data;
    request->length = length;
    request->finish = [state, done = std::move(done), &event_loop, in_flight, write, offset](int error, std::size_t n) mutable {
      in_flight->fetch_sub(1, std::memory_order_acq_rel);
      Result<std::size_t> result = n;
      if (error != 0) result = system_error(error, failure(write ? "pwrite" : "pread", state->path, offset + n));
      event_loop.guarded([&] { done(std::move(result)); });
    };
    event_loop.driver().submit_file(std::move(request));
    return;
  }

  // The completion is move-only and a refused task is dropped unrun, so both paths reach it
  // through one shared cell: whichever runs takes it.
  auto owed = std::make_shared<Done>(std::move(done));
  auto task = [state, write, offset, data, length, owed, answer]() mutable {
    answer(std::move(*owed), transfer(state->path, state->fd, write, offset, data, length));
  };
  if (!state_->pool->try_submit(std::move(task))) {
    answer(std::move(*owed), Error(std::make_error_code(std::errc::resource_unavailable_try_again),
                                  std::string(op) + " " + state_->path + ": the worker pool's queue is full"));
  }
}

}  // namespace gnet
