// utf8.cpp — see utf8.hpp. The lead byte decides how many continuation bytes follow and, for the
// leads whose next byte is restricted (E0, ED, F0, F4), the range of the first one; every other
// continuation byte is 80..BF.
#include "utf8.hpp"

namespace ws {

bool Utf8Validator::feed(std::string_view bytes) noexcept {
  if (failed_) return false;
  for (char ch : bytes) {
    auto b = static_cast<std::uint8_t>(ch);
    if (need_ > 0) {
      if (b < lo_ || b > hi_) {
        failed_ = true;
        return false;
      }
      --need_;
      lo_ = 0x80;
      hi_ = 0xBF;
      continue;
    }
    if (b < 0x80) continue;
    if (b >= 0xC2 && b <= 0xDF) {  // C0, C1 would be overlong two-byte forms
      need_ = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need_ = 2;
      if (b == 0xE0) lo_ = 0xA0;  // overlong three-byte forms
      if (b == 0xED) hi_ = 0x9F;  // surrogates U+D800..U+DFFF
    } else if (b >= 0xF0 && b <= 0xF4) {
      need_ = 3;
      if (b == 0xF0) lo_ = 0x90;  // overlong four-byte forms
      if (b == 0xF4) hi_ = 0x8F;  // above U+10FFFF
    } else {  // stray continuation byte, C0/C1, F5..FF
      failed_ = true;
      return false;
    }
  }
  return true;
}

bool is_valid_utf8(std::string_view bytes) noexcept {
  Utf8Validator v;
  return v.feed(bytes) && v.complete();
}

}  // namespace ws
