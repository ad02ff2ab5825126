// examples/http/http_scan.hpp — byte-class scans for the request-head parser, 16 bytes at a time.
//
// A request head is mostly a request-target and header values: runs of ordinary bytes ended by
// one delimiter. These scans find the first byte outside a class with SSE2 (part of the x86-64
// baseline, so always available there), and fall back to a plain loop elsewhere and for the
// last < 16 bytes. They never read outside [p, end).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace http_example::scan {

// RFC 9110 tchar: the characters of a token (methods, header names, transfer codings).
inline constexpr std::array<bool, 256> kTchar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : {'!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~'}) {
    t[static_cast<unsigned char>(c)] = true;
  }
  return t;
}();

inline bool is_tchar(char c) noexcept { return kTchar[static_cast<unsigned char>(c)]; }

// First byte that cannot be part of a request-target: a control character or space (<= 0x20),
// DEL or a non-ASCII byte (>= 0x7f), or '#' (a fragment is never sent). `end` when none.
inline const char* target_end(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i hash = _mm_set1_epi8('#');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, space), v);  // v <= 0x20
    const __m128i high = _mm_cmpeq_epi8(_mm_max_epu8(v, del), v);   // v >= 0x7f
    const __m128i stop = _mm_or_si128(_mm_or_si128(low, high), _mm_cmpeq_epi8(v, hash));
    const int mask = _mm_movemask_epi8(stop);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c <= 0x20 || c >= 0x7f || c == '#') return p;
  }
  return end;
}

// First control character (< 0x20, tab included, or DEL): where a field value ends (CR or LF)
// or is malformed. Spaces and obs-text (>= 0x80) are part of values. `end` when none.
inline const char* field_value_end(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
  const __m128i unit_separator = _mm_set1_epi8(0x1f);
  const __m128i del = _mm_set1_epi8(0x7f);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, unit_separator), v);  // v <= 0x1f
    const __m128i stop = _mm_or_si128(control, _mm_cmpeq_epi8(v, del));
    const int mask = _mm_movemask_epi8(stop);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c == 0x7f) return p;
  }
  return end;
}

// Whether a token equals a lowercase name, ASCII case-insensitively. Only for tokens (tchar):
// OR-ing 0x20 maps 'A'-'Z' onto 'a'-'z' and leaves '-' alone; no other tchar collides.
inline bool token_is(const char* p, std::size_t n, const char* lower, std::size_t lower_n) noexcept {
  if (n != lower_n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    if ((static_cast<unsigned char>(p[i]) | 0x20) != static_cast<unsigned char>(lower[i])) return false;
  }
  return true;
}

}  // namespace http_example::scan
