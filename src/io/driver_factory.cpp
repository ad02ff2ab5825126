#include "io/driver_factory.hpp"

#include "io/readiness_driver.hpp"

namespace gnet::detail {

Result<std::unique_ptr<IoDriver>> make_io_driver(EventLoop& loop) { return ReadinessDriver::create(loop); }

}  // namespace gnet::detail
