// examples/http/doc_root.cpp — see doc_root.hpp.
#include "doc_root.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace http_example {
namespace {

#if defined(SYS_openat2)
int sys_openat2(int dirfd, const char* path, std::uint64_t flags, std::uint64_t resolve) {
  open_how how{};
  how.flags = flags;
  how.resolve = resolve;
  // EAGAIN: a rename or mount raced the lookup (RESOLVE_BENEATH is conservative); retry a few
  // times, then report it (as a 404).
  long fd = -1;
  for (int attempt = 0; attempt < 8; ++attempt) {
    fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) break;
  }
  return static_cast<int>(fd);
}
#else
int sys_openat2(int, const char*, std::uint64_t, std::uint64_t) {
  errno = ENOSYS;
  return -1;
}
#endif

constexpr std::uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

// The status for a failed lookup.
int status_for(int err) {
  switch (err) {
    case EXDEV:   // openat2: the path would leave the root
    case ELOOP:   // a magic link, a symlink loop, or (component walk) any symlink
    case EACCES:
    case EPERM:
      return 403;
    default:      // ENOENT, ENOTDIR, ENAMETOOLONG, ...
      return 404;
  }
}

}  // namespace

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

DocRoot::DocRoot(const std::string& dir, Resolution resolution, std::string* error) {
  UniqueFd root(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    if (error) *error = dir + ": " + std::strerror(errno);
    return;
  }
  if (resolution == Resolution::automatic) {
    // Probe once: ENOSYS on kernels before 5.6, EPERM (or ENOSYS) where seccomp filters it.
    UniqueFd probe(sys_openat2(root.get(), ".", O_PATH | O_CLOEXEC, kResolve));
    resolution = probe ? Resolution::openat2 : Resolution::component_walk;
  }
  root_ = std::move(root);
  resolution_ = resolution;
  if (error) error->clear();
}

int DocRoot::open_beneath(const char* rel, int flags) const {
  if (*rel == '\0') rel = ".";
  if (resolution_ == Resolution::openat2) {
    return sys_openat2(root_.get(), rel, static_cast<std::uint64_t>(flags | O_CLOEXEC), kResolve);
  }
  return walk_beneath(rel, flags);
}

// One component at a time from the root, never following a symlink: a symlink component
// fails with ELOOP (last component) or ENOTDIR (directory component, O_DIRECTORY|O_NOFOLLOW).
// "." and empty components are skipped; ".." never reaches here.
int DocRoot::walk_beneath(const char* rel, int flags) const {
  UniqueFd dir(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
  if (!dir) return -1;
  std::string component;
  const char* p = rel;
  for (;;) {
    const char* slash = std::strchr(p, '/');
    const bool last = slash == nullptr;  // "a/" ends with an empty component: "a" must be a dir
    component.assign(p, slash == nullptr ? std::strlen(p) : static_cast<std::size_t>(slash - p));
    if (component.empty() || component == ".") {
      if (last) return ::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0);
      p = slash + 1;
      continue;
    }
    if (last) {
      // O_PATH|O_NOFOLLOW opens a symlink itself (so fstat sees S_ISLNK): refuse it here.
      const int fd = ::openat(dir.get(), component.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return -1;
      struct stat st {};
      if (::fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
        ::close(fd);
        errno = ELOOP;
        return -1;
      }
      return fd;
    }
    UniqueFd next(::openat(dir.get(), component.c_str(),
                           O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return -1;
    dir = std::move(next);
    p = slash + 1;
  }
}

DocRoot::Found DocRoot::find(const std::string& rel) const {
  Found found;
  // O_PATH: resolves and pins the inode without opening the file itself.
  UniqueFd path(open_beneath(rel.c_str(), O_PATH));
  if (!path) {
    found.status = status_for(errno);
    return found;
  }
  struct stat st {};
  if (::fstat(path.get(), &st) != 0) {
    found.status = 404;
    return found;
  }
  if (S_ISDIR(st.st_mode)) {
    found.directory = true;
    return found;
  }
  if (!S_ISREG(st.st_mode)) {  // FIFO, socket, device: never opened
    found.status = 404;
    return found;
  }
  // Now open it for reading, by the same path, and make sure it is still that regular file.
  UniqueFd file(open_beneath(rel.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY));
  if (!file) {
    found.status = status_for(errno);
    return found;
  }
  struct stat now {};
  if (::fstat(file.get(), &now) != 0 || !S_ISREG(now.st_mode) || now.st_dev != st.st_dev ||
      now.st_ino != st.st_ino) {
    found.status = 404;
    return found;
  }
  found.file = std::move(file);
  found.size = static_cast<std::uint64_t>(now.st_size);
  return found;
}

}  // namespace http_example
