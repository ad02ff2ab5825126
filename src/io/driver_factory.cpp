#include "io/driver_factory.hpp"

#include <atomic>
#include <cstdlib>
#include <string>
#include <string_view>

#include "io/readiness_driver.hpp"
#include "loop/event_loop.hpp"
#ifdef GNET_HAVE_IO_URING
#include "io/uring_driver.hpp"
#endif

namespace gnet::detail {
namespace {

// Options::backend, with GNET_BACKEND deciding when the options leave it open.
Result<IoBackend> chosen_backend(const Options& options) {
  if (options.backend != IoBackend::automatic) return options.backend;
  const char* env = std::getenv("GNET_BACKEND");
  std::string_view value = env != nullptr ? env : "";
  if (value.empty() || value == "auto") return IoBackend::automatic;
  if (value == "epoll") return IoBackend::epoll;
  if (value == "io_uring" || value == "uring") return IoBackend::io_uring;
  return Error(std::make_error_code(std::errc::invalid_argument),
               "GNET_BACKEND=" + std::string(value) + ": expected epoll, io_uring or auto");
}

}  // namespace

Result<std::unique_ptr<IoDriver>> make_io_driver(EventLoop& loop) {
  auto backend = chosen_backend(loop.context().options);
  if (!backend) return backend.error();
  if (backend.value() == IoBackend::epoll) return ReadinessDriver::create(loop);
#ifdef GNET_HAVE_IO_URING
  auto uring = UringDriver::create(loop);
  if (uring || backend.value() == IoBackend::io_uring) return uring;
  // automatic: the kernel (or a sandbox) refused the ring. epoll serves the same; say why once
  // per process, not once per loop.
  static std::atomic<bool> told{false};
  if (!told.exchange(true)) {
    loop.context().log(LogLevel::info, "io_uring unavailable, using epoll: " + uring.error().message());
  }
#else
  if (backend.value() == IoBackend::io_uring) {
    return Error(std::make_error_code(std::errc::function_not_supported),
                 "io_uring backend requested, but gnet was built without liburing");
  }
#endif
  return ReadinessDriver::create(loop);
}

}  // namespace gnet::detail

namespace gnet {

Error io_uring_unavailable() {
#ifdef GNET_HAVE_IO_URING
  return detail::UringDriver::probe();
#else
  return Error(std::make_error_code(std::errc::function_not_supported), "gnet was built without liburing");
#endif
}

}  // namespace gnet
