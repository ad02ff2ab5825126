// examples/http/doc_root.hpp — opening static files beneath a document root, safely.
//
// Three properties, each closing a hole a check-then-open design leaves:
// - Resolution never leaves the root, with no gap between checking a path and opening it:
//   openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS resolves every component relative
//   to the root's descriptor and refuses "..", absolute symlinks and symlinks that climb out
//   (EXDEV), atomically. Where the kernel lacks openat2 (before 5.6, or filtered by seccomp),
//   the path is walked one component at a time with O_NOFOLLOW: no symlink is followed at all.
// - Only regular files are ever opened for reading. The path is first opened with O_PATH,
//   which opens nothing (a FIFO does not wait for a writer, a device driver is not called),
//   and fstat decides; a regular file is then opened O_RDONLY | O_NONBLOCK and must be the same
//   inode (a swap in between is refused), so even then a FIFO could not block the loop.
// - Descriptors are owned (UniqueFd) and close-on-exec.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>

namespace http_example {

// A file descriptor owned by one object; closed when it goes.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// How paths are resolved beneath the root.
enum class Resolution {
  automatic,       // openat2 when the kernel has it, else component_walk
  openat2,         // RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS (symlinks inside the root work)
  component_walk,  // one openat(O_NOFOLLOW) per component (no symlink is followed)
};

class DocRoot {
 public:
  DocRoot() = default;
  // Opens `dir` as the root. On failure `error` says why and the DocRoot is not open.
  DocRoot(const std::string& dir, Resolution resolution, std::string* error);

  bool is_open() const noexcept { return static_cast<bool>(root_); }
  // The resolution in use (never `automatic` once open).
  Resolution resolution() const noexcept { return resolution_; }

  struct Found {
    int status = 0;          // 0 when found; otherwise 403 (escapes the root, symlink refused,
                             // permission) or 404 (missing, or not a regular file/directory)
    bool directory = false;  // found a directory: nothing is opened
    UniqueFd file;           // found a regular file: open for reading, non-blocking
    std::uint64_t size = 0;  // its size
  };
  // `rel` is relative to the root (no leading '/'; "" is the root itself). The caller has
  // already refused ".." components.
  Found find(const std::string& rel) const;

 private:
  int open_beneath(const char* rel, int flags) const;  // -1 and errno on failure
  int walk_beneath(const char* rel, int flags) const;

  UniqueFd root_;
  Resolution resolution_ = Resolution::automatic;
};

}  // namespace http_example
