// utf8.hpp — incremental UTF-8 validation for WebSocket text messages (RFC 6455 §8.1, RFC 3629).
//
// A text message may arrive split over many frames, and a frame boundary may fall inside a
// multi-byte character, so the validator keeps its state between feed() calls. It fails fast:
// feed() returns false at the first byte that cannot start or continue a well-formed sequence
// (overlong forms, UTF-16 surrogates U+D800..U+DFFF and code points above U+10FFFF included).
#pragma once

#include <cstdint>
#include <string_view>

namespace ws {

class Utf8Validator {
 public:
  // Feeds the next bytes. Returns false once the input so far cannot be valid UTF-8; the
  // validator then stays failed until reset().
  bool feed(std::string_view bytes) noexcept;
  // True when everything fed so far is valid and no character is cut off at the end.
  bool complete() const noexcept { return !failed_ && need_ == 0; }
  bool failed() const noexcept { return failed_; }
  void reset() noexcept { *this = Utf8Validator{}; }

 private:
  std::uint8_t need_ = 0;      // continuation bytes still expected
  std::uint8_t lo_ = 0x80;     // allowed range of the next continuation byte
  std::uint8_t hi_ = 0xBF;
  bool failed_ = false;
};

// Whole-string check.
bool is_valid_utf8(std::string_view bytes) noexcept;

}  // namespace ws
