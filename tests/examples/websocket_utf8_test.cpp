// Unit tests of examples/websocket/utf8: the incremental validator behind 1007 closes.
#include <gtest/gtest.h>

#include <string>

#include "utf8.hpp"

namespace {

using ws::is_valid_utf8;
using ws::Utf8Validator;

TEST(WebSocketUtf8, AcceptsWellFormedText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ASCII"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9"));                   // é
  EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC"));                  // €
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));              // 😀
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));                  // U+D7FF, just below surrogates
  EXPECT_TRUE(is_valid_utf8("\xEE\x80\x80"));                  // U+E000, just above
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));              // U+10FFFF, the last code point
  EXPECT_TRUE(is_valid_utf8(std::string("a\0b", 3)));          // NUL is valid UTF-8
  EXPECT_TRUE(is_valid_utf8("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"));  // κόσμε
}

TEST(WebSocketUtf8, RejectsMalformedText) {
  EXPECT_FALSE(is_valid_utf8("\x80"));                  // lone continuation byte
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));              // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xC1\xBF"));              // overlong
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));          // overlong three-byte
  EXPECT_FALSE(is_valid_utf8("\xF0\x80\x80\xAF"));      // overlong four-byte
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));          // U+D800 surrogate
  EXPECT_FALSE(is_valid_utf8("\xED\xBF\xBF"));          // U+DFFF surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));      // U+110000
  EXPECT_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));      // F5 never appears
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  EXPECT_FALSE(is_valid_utf8("\xC3"));                  // cut short
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));              // cut short
  EXPECT_FALSE(is_valid_utf8("\xE2\x28\xA1"));          // bad continuation
  EXPECT_FALSE(is_valid_utf8("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80" "edited"));
}

// A character split at every possible point still validates, and fed byte by byte too.
TEST(WebSocketUtf8, CharactersSplitAcrossFeeds) {
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    Utf8Validator v;
    EXPECT_TRUE(v.feed(text.substr(0, cut))) << cut;
    EXPECT_TRUE(v.feed(text.substr(cut))) << cut;
    EXPECT_TRUE(v.complete()) << cut;
  }
  Utf8Validator v;
  for (char c : text) ASSERT_TRUE(v.feed(std::string(1, c)));
  EXPECT_TRUE(v.complete());
}

TEST(WebSocketUtf8, IncompleteUntilTheLastByteArrives) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed("\xF0\x9F"));
  EXPECT_FALSE(v.complete());
  EXPECT_FALSE(v.failed());
  EXPECT_TRUE(v.feed("\x98"));
  EXPECT_FALSE(v.complete());
  EXPECT_TRUE(v.feed("\x80"));
  EXPECT_TRUE(v.complete());
}

// Fails at the first bad byte, not at the end, and stays failed.
TEST(WebSocketUtf8, FailsFastAndStaysFailed) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed("ok \xED"));
  EXPECT_FALSE(v.feed("\xA0"));  // surrogate detected on its second byte
  EXPECT_TRUE(v.failed());
  EXPECT_FALSE(v.feed("fine again"));
  EXPECT_FALSE(v.complete());
  v.reset();
  EXPECT_TRUE(v.feed("fine again"));
  EXPECT_TRUE(v.complete());
}

// Exhaustive over every 1- and 2-byte string and a 3-byte sample, against a decoder written from
// the RFC 3629 definition (decode, then check range, overlong and surrogates).
bool reference_valid(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t len;
    unsigned cp;
    if (b < 0x80) { len = 1; cp = b; }
    else if ((b & 0xE0) == 0xC0) { len = 2; cp = b & 0x1F; }
    else if ((b & 0xF0) == 0xE0) { len = 3; cp = b & 0x0F; }
    else if ((b & 0xF8) == 0xF0) { len = 4; cp = b & 0x07; }
    else return false;
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr unsigned kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

TEST(WebSocketUtf8, MatchesReferenceDecoder) {
  for (int a = 0; a < 256; ++a) {
    std::string one(1, static_cast<char>(a));
    ASSERT_EQ(is_valid_utf8(one), reference_valid(one)) << a;
    for (int b = 0; b < 256; ++b) {
      std::string two = one + static_cast<char>(b);
      ASSERT_EQ(is_valid_utf8(two), reference_valid(two)) << a << " " << b;
    }
  }
  for (int a = 0xE0; a <= 0xF4; ++a) {
    for (int b = 0x70; b < 0xC8; ++b) {
      for (int c : {0x41, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0}) {
        for (int d : {-1, 0x80, 0xBF, 0x41}) {
          std::string s{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)};
          if (d >= 0) s += static_cast<char>(d);
          ASSERT_EQ(is_valid_utf8(s), reference_valid(s)) << a << " " << b << " " << c << " " << d;
        }
      }
    }
  }
}

}  // namespace
