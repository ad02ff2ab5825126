// Fuzz harness: the streaming UTF-8 validator of examples/websocket (ws::Utf8Validator) against
// a simple reference that decodes code points one by one (ws_utf8_reference.hpp), with the input
// cut at arbitrary points.
//
// Input: byte 0 seeds the cuts (chunk lengths from a xorshift, 1 to 1 + byte0 % 64 bytes; 0 means
// one chunk), the rest is the text. Checked:
//   - after every chunk, feed() says false exactly when the bytes so far are not the beginning of
//     any valid UTF-8 string (fail fast: at the first impossible byte, not at the end), and
//     failed() stays set once it is;
//   - at the end, complete() exactly when the reference accepts the whole text, and
//     is_valid_utf8() agrees with it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "utf8.hpp"
#include "ws_utf8_reference.hpp"

using ws_fuzz::reference;
using ws_fuzz::Verdict;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t cut = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::uint32_t rng = 0x9E3779B9u ^ cut;

  // Whether a prefix can still begin valid UTF-8 is monotone in its length (a byte is impossible
  // or not by what precedes it), so the shortest impossible prefix is found by bisection with the
  // same reference: O(n log n) per input instead of a reference run per chunk (O(n^2) with
  // 1-byte chunks, which held this harness to ~1 300 executions/s).
  std::size_t first_impossible = text.size() + 1;  // none
  if (reference(text) == Verdict::invalid) {
    std::size_t lo = 0, hi = text.size();  // prefix lo is not invalid, prefix hi is
    while (hi - lo > 1) {
      const std::size_t mid = lo + (hi - lo) / 2;
      (reference(text.substr(0, mid)) == Verdict::invalid ? hi : lo) = mid;
    }
    first_impossible = hi;
  }

  ws::Utf8Validator v;
  bool failed = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t n = text.size() - pos;
    if (cut != 0) {
      rng ^= rng << 13;
      rng ^= rng >> 17;
      rng ^= rng << 5;
      n = std::min<std::size_t>(n, 1 + rng % (1u + cut % 64u));
    }
    pos += n;
    const bool ok = v.feed(text.substr(pos - n, n));
    const bool possible = pos < first_impossible;
    if (failed && ok) std::abort();        // a failure is sticky
    if (!failed && ok != possible) std::abort();  // fails exactly at the first impossible chunk
    failed = failed || !ok;
    if (v.failed() != failed) std::abort();
  }
  const bool valid = reference(text) == Verdict::valid;
  if (v.complete() != valid) std::abort();
  if (ws::is_valid_utf8(text) != valid) std::abort();
  return 0;
}
