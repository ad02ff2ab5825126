// examples/redis/siphash.hpp — SipHash (Aumasson and Bernstein, 2012), the keyed hash of the
// key space's tables.
//
// Why keyed: with a hash anyone can compute (std::hash is MurmurHash2 with a fixed seed), a
// client can choose keys or set members that all land in one bucket and turn every lookup into
// a walk of a long chain (hash flooding). With a secret random key per process it cannot know
// which keys collide. Redis does the same: SipHash-1-3 seeded from /dev/urandom at start-up.
// C compression and D finalization rounds; SipHash-2-4 is the paper's reference (its test
// vectors check this code), SipHash-1-3 the faster variant Redis, Python and Rust use for
// tables.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace redis_example {

struct SipKey {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;
};

template <int C, int D>
std::uint64_t siphash(const SipKey& key, std::string_view data) noexcept {
  std::uint64_t v0 = 0x736f6d6570736575ULL ^ key.k0;
  std::uint64_t v1 = 0x646f72616e646f6dULL ^ key.k1;
  std::uint64_t v2 = 0x6c7967656e657261ULL ^ key.k0;
  std::uint64_t v3 = 0x7465646279746573ULL ^ key.k1;
  auto rotl = [](std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); };
  auto round = [&] {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  };
  auto compress = [&](std::uint64_t m) {
    v3 ^= m;
    for (int i = 0; i < C; ++i) round();
    v0 ^= m;
  };
  const char* p = data.data();
  const std::size_t n = data.size();
  const std::size_t whole = n & ~std::size_t{7};
  for (std::size_t i = 0; i < whole; i += 8) {
    std::uint64_t m;
    std::memcpy(&m, p + i, 8);
    if constexpr (std::endian::native == std::endian::big) m = __builtin_bswap64(m);  // LE words
    compress(m);
  }
  // The last 0-7 bytes, with the length's low byte on top.
  std::uint64_t last = static_cast<std::uint64_t>(n) << 56;
  for (std::size_t i = 0; i < (n & 7); ++i) {
    last |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[whole + i])) << (8 * i);
  }
  compress(last);
  v2 ^= 0xff;
  for (int i = 0; i < D; ++i) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

}  // namespace redis_example
