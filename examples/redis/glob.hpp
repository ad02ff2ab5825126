// examples/redis/glob.hpp — Redis glob patterns (KEYS, CONFIG GET) with a bounded cost.
//
// The syntax and every corner of it are Redis's stringmatchlen(): `*` any run of bytes, `?` one
// byte, `[abc]` `[^abc]` `[a-z]` classes (a reversed range is swapped, `\` escapes inside a
// class, an unterminated class runs to the end of the pattern), `\x` the byte x, everything
// else itself. Two quirks are kept so that replies match redis-server: an empty string matches
// only the empty pattern (Redis's KEYS special-cases the pattern "*"; glob_match does not), and
// range bounds compare as signed chars.
//
// Redis matches by recursion at every `*`, which is exponential in the number of stars before
// its skipLongerMatches cut-off and still costly after it; a pattern like `*a*a*a*a*a*a*b`
// against a long key was the CVE-2022-36021 hang. Here every token other than `*` matches
// exactly one byte, so it is enough to remember only the last `*` and, on a mismatch, let it
// swallow one more byte and retry from there (the classic two-pointer wildcard matcher): the
// cost is at most O(pattern length × string length), whatever the pattern.
#pragma once

#include <string_view>

namespace redis_example {

bool glob_match(std::string_view pattern, std::string_view s, bool nocase = false) noexcept;

}  // namespace redis_example
