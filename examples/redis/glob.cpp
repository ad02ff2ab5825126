// examples/redis/glob.cpp — see glob.hpp.
#include "glob.hpp"

#include <cstddef>

namespace redis_example {
namespace {

int fold(int c, bool nocase) noexcept {
  return nocase && c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

// Redis compares as (signed) char, and reads the NUL that terminates its strings when a class
// is cut off by the end of the pattern; at() reproduces both.
struct Pattern {
  std::string_view p;
  int at(std::size_t i) const noexcept {
    return i < p.size() ? static_cast<int>(static_cast<signed char>(p[i])) : 0;
  }
};

struct Step {
  bool matched;
  std::size_t next;  // the pattern position after this token
};

// Matches the single-byte token at pattern position i (not a '*') against the byte c.
Step match_token(const Pattern& pat, std::size_t i, int c, bool nocase) noexcept {
  const std::size_t n = pat.p.size();
  switch (pat.at(i)) {
    case '?':
      return {true, i + 1};
    case '[': {
      std::size_t q = i + 1;
      const bool negate = q < n && pat.at(q) == '^';
      if (negate) ++q;
      bool matched = false;
      for (;;) {
        const std::size_t left = n - q;  // q never passes n: the loop stops at the end
        if (pat.at(q) == '\\' && left >= 2) {
          ++q;
          if (pat.at(q) == c) matched = true;
        } else if (pat.at(q) == ']') {
          break;
        } else if (left == 0) {
          --q;  // unterminated: the class took the rest of the pattern
          break;
        } else if (left >= 3 && pat.at(q + 1) == '-') {
          int lo = pat.at(q), hi = pat.at(q + 2);
          if (lo > hi) {
            const int t = lo;
            lo = hi;
            hi = t;
          }
          const int x = fold(c, nocase);
          if (x >= fold(lo, nocase) && x <= fold(hi, nocase)) matched = true;
          q += 2;
        } else if (fold(pat.at(q), nocase) == fold(c, nocase)) {
          matched = true;
        }
        ++q;
      }
      return {matched != negate, q + 1};
    }
    case '\\':
      if (n - i >= 2) ++i;
      [[fallthrough]];
    default:
      return {fold(pat.at(i), nocase) == fold(c, nocase), i + 1};
  }
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view s, bool nocase) noexcept {
  if (s.empty()) return pattern.empty();  // Redis never enters its loop for an empty string
  const Pattern pat{pattern};
  const std::size_t n = pattern.size();
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t p = 0, i = 0;
  std::size_t star_p = kNone, star_i = 0;  // after the last '*', and where its match ends
  while (i < s.size()) {
    if (p < n && pattern[p] == '*') {
      while (p < n && pattern[p] == '*') ++p;
      if (p == n) return true;  // a trailing star takes the rest
      star_p = p;
      star_i = i;
      continue;
    }
    if (p < n) {
      const Step st = match_token(pat, p, static_cast<signed char>(s[i]), nocase);
      if (st.matched) {
        p = st.next;
        ++i;
        continue;
      }
    }
    if (star_p == kNone) return false;
    p = star_p;  // the last star swallows one more byte
    i = ++star_i;
  }
  while (p < n && pattern[p] == '*') ++p;
  return p == n;
}

}  // namespace redis_example
