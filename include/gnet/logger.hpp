// gnet/logger.hpp — where the library's log lines go.
//
// The default sink writes "2026-11-27T21:54:40.123Z WARN  message" lines to stderr at level info
// and above. Replace it per engine with Options::logger. A sink may be called from any loop
// thread at once: it must be thread-safe (the default one is).
#pragma once

#include <functional>
#include <string_view>

namespace gnet {

enum class LogLevel : int { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

using LogSink = std::function<void(LogLevel, std::string_view message)>;

// The default sink: leveled, timestamped lines on stderr, dropping anything below min_level.
LogSink stderr_logger(LogLevel min_level = LogLevel::info);

// A sink that drops everything.
LogSink null_logger();

const char* to_string(LogLevel level) noexcept;

}  // namespace gnet
