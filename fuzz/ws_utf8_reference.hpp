// Shared by the WebSocket fuzz harnesses: a simple UTF-8 reference to check ws::Utf8Validator
// and the frame decoder's text handling against. It decodes each character by its lead byte's
// length and judges the code point (overlong, surrogate, above U+10FFFF), unlike the validator,
// which follows the byte-range table of RFC 3629.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ws_fuzz {

enum class Verdict { valid, prefix, invalid };

// True when some continuation of the cp prefix (len-byte sequence, `missing` bytes still to
// come, each adding 6 bits) is a code point that len bytes may encode.
inline bool completable(std::uint32_t cp, int len, int missing) {
  static constexpr std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  std::uint32_t lo = cp << (6 * missing);
  std::uint32_t hi = lo | ((1u << (6 * missing)) - 1);
  if (lo < kMin[len]) lo = kMin[len];
  if (hi > 0x10FFFF) hi = 0x10FFFF;
  if (lo > hi) return false;
  return !(lo >= 0xD800 && hi <= 0xDFFF);  // only surrogates left
}

// valid: whole characters only; prefix: valid so far, the last character cut off; invalid: no
// continuation can make it valid.
inline Verdict reference(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<std::uint8_t>(s[i]);
    int len;
    std::uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07;
    } else {
      return Verdict::invalid;  // a continuation byte or F8..FF as a lead
    }
    const std::size_t have = std::min<std::size_t>(static_cast<std::size_t>(len), s.size() - i);
    for (std::size_t k = 1; k < have; ++k) {
      const auto c = static_cast<std::uint8_t>(s[i + k]);
      if ((c & 0xC0) != 0x80) return Verdict::invalid;
      cp = (cp << 6) | (c & 0x3F);
      // A prefix that can no longer be completed is invalid now, whatever follows.
      if (!completable(cp, len, len - 1 - static_cast<int>(k))) return Verdict::invalid;
    }
    if (!completable(cp, len, len - static_cast<int>(have))) return Verdict::invalid;
    if (have < static_cast<std::size_t>(len)) return Verdict::prefix;
    i += static_cast<std::size_t>(len);
  }
  return Verdict::valid;
}

}  // namespace ws_fuzz
