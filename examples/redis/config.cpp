// examples/redis/config.cpp — see config.hpp.
#include "config.hpp"

#include <cctype>

namespace redis_example {

std::optional<std::size_t> parse_memory_size(std::string_view text) noexcept {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return std::nullopt;
  std::string_view unit = text.substr(digits);
  std::size_t multiplier = 0;
  struct Unit {
    std::string_view name;
    std::size_t factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},           {"b", 1},
      {"k", 1000},       {"kb", 1024},
      {"m", 1000000},    {"mb", 1024 * 1024},
      {"g", 1000000000}, {"gb", 1024ULL * 1024 * 1024},
  };
  for (const Unit& u : kUnits) {
    if (u.name.size() != unit.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < unit.size(); ++i) {
      same = same && std::tolower(static_cast<unsigned char>(unit[i])) == u.name[i];
    }
    if (same) multiplier = u.factor;
  }
  if (multiplier == 0) return std::nullopt;
  std::size_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (__builtin_mul_overflow(value, std::size_t{10}, &value) ||
        __builtin_add_overflow(value, static_cast<std::size_t>(text[i] - '0'), &value)) {
      return std::nullopt;
    }
  }
  if (__builtin_mul_overflow(value, multiplier, &value)) return std::nullopt;
  return value;
}

}  // namespace redis_example
