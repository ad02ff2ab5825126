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
  if (backend.value() == IoBackend::io_uring) {
#ifdef GNET_HAVE_IO_URING
    return UringDriver::create(loop);
#else
    return Error(std::make_error_code(std::errc::function_not_supported),
                 "io_uring backend requested, but gnet was built without liburing");
#endif
  }
  return ReadinessDriver::create(loop);
}

}  // namespace gnet::detail
