// Default log sinks.
#include <sys/time.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "gnet/logger.hpp"

namespace gnet {

const char* to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug: return "DEBUG";
    case LogLevel::info: return "INFO";
    case LogLevel::warn: return "WARN";
    case LogLevel::error: return "ERROR";
    case LogLevel::off: return "OFF";
  }
  return "?";
}

LogSink stderr_logger(LogLevel min_level) {
  return [min_level](LogLevel level, std::string_view message) {
    if (level < min_level) return;
    timeval tv{};
    ::gettimeofday(&tv, nullptr);
    std::tm tm{};
    ::gmtime_r(&tv.tv_sec, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    // One fprintf per line: stdio locks the stream, so lines from several loops never interleave.
    std::fprintf(stderr, "%s.%03dZ %-5s %.*s\n", stamp, static_cast<int>(tv.tv_usec / 1000),
                 to_string(level), static_cast<int>(message.size()), message.data());
  };
}

LogSink null_logger() {
  return [](LogLevel, std::string_view) {};
}

}  // namespace gnet
