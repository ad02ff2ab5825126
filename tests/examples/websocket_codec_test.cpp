// Unit tests of examples/websocket/ws_codec: frame building, header parsing, and the Receiver's
// policy (masking, fragmentation, control frames, UTF-8, size limit, close codes, draining).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ws_codec.hpp"

namespace {

using ws::Event;
using ws::Opcode;
using ws::Receiver;

constexpr std::size_t kMax = 1024;

// A client frame: masked with a fixed key unless masked=false. rsv is bits RSV1..RSV3 (4,2,1).
std::string client_frame(std::uint8_t opcode, std::string_view payload, bool fin = true,
                         bool masked = true, std::uint8_t rsv = 0) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | opcode));
  const std::uint8_t mbit = masked ? 0x80 : 0;
  const std::size_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(mbit | n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(mbit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(mbit | 127));
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> s) & 0xFF));
  }
  const std::uint8_t key[4] = {0x37, 0xFA, 0x21, 0x3D};
  if (masked) {
    for (auto k : key) out.push_back(static_cast<char>(k));
  }
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(masked ? static_cast<char>(static_cast<std::uint8_t>(payload[i]) ^ key[i % 4]) : payload[i]);
  }
  return out;
}

std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
  p.append(reason);
  return p;
}

struct Fed {
  std::size_t used;
  std::vector<Event> events;
};

Fed feed(Receiver& rx, std::string_view data) {
  Fed f;
  f.used = rx.feed(data, f.events);
  return f;
}

// ---- building ----

TEST(WebSocketCodec, BuildsUnmaskedServerFramesWithMinimalLengths) {
  EXPECT_EQ(ws::build_frame(Opcode::text, "Hello"), std::string("\x81\x05Hello"));
  EXPECT_EQ(ws::build_frame(Opcode::binary, ""), std::string("\x82\x00", 2));
  EXPECT_EQ(ws::build_frame(Opcode::text, "ab", false), std::string("\x01\x02" "ab"));

  std::string f125 = ws::build_frame(Opcode::binary, std::string(125, 'x'));
  EXPECT_EQ(static_cast<std::uint8_t>(f125[1]), 125);
  EXPECT_EQ(f125.size(), 127u);

  std::string f126 = ws::build_frame(Opcode::binary, std::string(126, 'x'));
  EXPECT_EQ(static_cast<std::uint8_t>(f126[1]), 126);
  EXPECT_EQ(f126.substr(2, 2), std::string("\x00\x7E", 2));
  EXPECT_EQ(f126.size(), 4u + 126);

  std::string f64k = ws::build_frame(Opcode::binary, std::string(65535, 'x'));
  EXPECT_EQ(static_cast<std::uint8_t>(f64k[1]), 126);
  EXPECT_EQ(f64k.size(), 4u + 65535);

  std::string big = ws::build_frame(Opcode::binary, std::string(65536, 'x'));
  EXPECT_EQ(static_cast<std::uint8_t>(big[1]), 127);
  EXPECT_EQ(big.substr(2, 8), std::string("\x00\x00\x00\x00\x00\x01\x00\x00", 8));
  EXPECT_EQ(big.size(), 10u + 65536);
}

TEST(WebSocketCodec, BuildsCloseFrames) {
  EXPECT_EQ(ws::build_close_frame(0), std::string("\x88\x00", 2));
  EXPECT_EQ(ws::build_close_frame(1000), std::string("\x88\x02\x03\xE8", 4));
  EXPECT_EQ(ws::build_close_frame(1009, "big"), std::string("\x88\x05\x03\xF1" "big", 7));
  // A long reason is cut to keep the payload within 125 bytes, never inside a UTF-8 character.
  std::string reason(122, 'r');
  reason += "\xE2\x82\xAC";  // € straddles the 123-byte limit
  std::string f = ws::build_close_frame(1002, reason);
  EXPECT_EQ(static_cast<std::uint8_t>(f[1]), 2 + 122);
  EXPECT_TRUE(ws::is_valid_utf8(f.substr(4)));
}

TEST(WebSocketCodec, ServerFramesRoundTripThroughTheParser) {
  for (std::size_t n : {0u, 1u, 125u, 126u, 65535u, 65536u, 200000u}) {
    std::string frame = ws::build_frame(Opcode::binary, std::string(n, 'q'));
    ws::FrameHeader h;
    ASSERT_EQ(ws::parse_frame_header(frame, h), ws::HeaderStatus::complete) << n;
    EXPECT_EQ(h.payload_length, n);
    EXPECT_EQ(h.header_length + n, frame.size());
    EXPECT_TRUE(h.fin);
    EXPECT_FALSE(h.masked);
    EXPECT_EQ(h.opcode, 2);
  }
}

TEST(WebSocketCodec, CloseCodeValidity) {
  for (std::uint16_t c : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999}) {
    EXPECT_TRUE(ws::is_valid_close_code(c)) << c;
  }
  for (std::uint16_t c : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
    EXPECT_FALSE(ws::is_valid_close_code(c)) << c;
  }
}

// ---- header parsing ----

TEST(WebSocketCodec, HeaderNeedsEveryByteBeforeItIsComplete) {
  std::string frame = client_frame(0x2, std::string(70000, 'z'));  // 2 + 8 + 4 header bytes
  for (std::size_t cut = 0; cut < 14; ++cut) {
    ws::FrameHeader h;
    EXPECT_EQ(ws::parse_frame_header(std::string_view(frame).substr(0, cut), h), ws::HeaderStatus::incomplete) << cut;
  }
  ws::FrameHeader h;
  ASSERT_EQ(ws::parse_frame_header(std::string_view(frame).substr(0, 14), h), ws::HeaderStatus::complete);
  EXPECT_EQ(h.header_length, 14u);
  EXPECT_EQ(h.payload_length, 70000u);
  EXPECT_TRUE(h.masked);
  EXPECT_EQ(h.mask[0], 0x37);
  EXPECT_EQ(h.mask[3], 0x3D);
}

TEST(WebSocketCodec, HeaderWith64BitLengthTopBitIsMalformed) {
  std::string frame = "\x82\xFF\x80";
  frame.append(7, '\0');
  frame.append(4, 'm');
  ws::FrameHeader h;
  EXPECT_EQ(ws::parse_frame_header(frame, h), ws::HeaderStatus::malformed);
}

TEST(WebSocketCodec, MaskIsItsOwnInverseAtAnyOffset) {
  std::array<std::uint8_t, 4> key{1, 2, 3, 4};
  std::string data = "0123456789";
  std::string work = data;
  ws::apply_mask(work.data(), 3, key, 0);
  ws::apply_mask(work.data() + 3, work.size() - 3, key, 3);
  std::string whole = data;
  ws::apply_mask(whole.data(), whole.size(), key);
  EXPECT_EQ(work, whole);
  ws::apply_mask(whole.data(), whole.size(), key);
  EXPECT_EQ(whole, data);
}

// ---- receiver: the happy paths ----

TEST(WebSocketReceiver, DecodesTextAndBinaryMessages) {
  Receiver rx(kMax);
  std::string bytes = client_frame(0x1, "hello") + client_frame(0x2, std::string("\x00\xFF", 2));
  Fed f = feed(rx, bytes);
  EXPECT_EQ(f.used, bytes.size());
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_EQ(f.events[0].type, Event::Type::message);
  EXPECT_EQ(f.events[0].opcode, Opcode::text);
  EXPECT_EQ(f.events[0].payload, "hello");
  EXPECT_EQ(f.events[1].opcode, Opcode::binary);
  EXPECT_EQ(f.events[1].payload, std::string("\x00\xFF", 2));
}

TEST(WebSocketReceiver, EmptyMessages) {
  Receiver rx(kMax);
  Fed f = feed(rx, client_frame(0x1, "") + client_frame(0x2, ""));
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_EQ(f.events[0].payload, "");
  EXPECT_EQ(f.events[1].opcode, Opcode::binary);
}

// Partial frames are never consumed: every split point leaves the caller with the frame whole.
TEST(WebSocketReceiver, LeavesPartialFramesUnconsumed) {
  const std::string frame = client_frame(0x1, std::string(300, 'a'));
  for (std::size_t cut = 0; cut < frame.size(); ++cut) {
    Receiver rx(kMax);
    Fed f = feed(rx, std::string_view(frame).substr(0, cut));
    EXPECT_EQ(f.used, 0u) << cut;
    EXPECT_TRUE(f.events.empty()) << cut;
    Fed g = feed(rx, frame);  // the caller offers the kept bytes plus the new ones
    EXPECT_EQ(g.used, frame.size());
    ASSERT_EQ(g.events.size(), 1u);
    EXPECT_EQ(g.events[0].payload, std::string(300, 'a'));
  }
}

TEST(WebSocketReceiver, ConsumesWholeFramesAndKeepsTheRest) {
  Receiver rx(kMax);
  const std::string a = client_frame(0x1, "first");
  const std::string b = client_frame(0x1, "second");
  Fed f = feed(rx, a + b.substr(0, 4));
  EXPECT_EQ(f.used, a.size());
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].payload, "first");
}

TEST(WebSocketReceiver, JoinsFragmentsWithControlFramesInBetween) {
  Receiver rx(kMax);
  std::string bytes = client_frame(0x1, "Hel", false) + client_frame(0x9, "are you there") +
                      client_frame(0x0, "lo, ", false) + client_frame(0xA, "") +
                      client_frame(0x0, "world");
  Fed f = feed(rx, bytes);
  EXPECT_EQ(f.used, bytes.size());
  ASSERT_EQ(f.events.size(), 3u);
  EXPECT_EQ(f.events[0].type, Event::Type::ping);
  EXPECT_EQ(f.events[0].payload, "are you there");
  EXPECT_EQ(f.events[1].type, Event::Type::pong);
  EXPECT_EQ(f.events[2].type, Event::Type::message);
  EXPECT_EQ(f.events[2].opcode, Opcode::text);
  EXPECT_EQ(f.events[2].payload, "Hello, world");
  EXPECT_FALSE(rx.in_message());
}

TEST(WebSocketReceiver, FragmentsArrivingInSeparateReads) {
  Receiver rx(kMax);
  Fed a = feed(rx, client_frame(0x2, "ab", false));
  EXPECT_TRUE(a.events.empty());
  EXPECT_TRUE(rx.in_message());
  Fed b = feed(rx, client_frame(0x0, "", false));
  EXPECT_TRUE(b.events.empty());
  Fed c = feed(rx, client_frame(0x0, "cd"));
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].opcode, Opcode::binary);
  EXPECT_EQ(c.events[0].payload, "abcd");
}

// A character split between fragments is fine; the message is validated as a whole.
TEST(WebSocketReceiver, Utf8CharacterSplitAcrossFragments) {
  Receiver rx(kMax);
  Fed f = feed(rx, client_frame(0x1, "\xE2\x82", false) + client_frame(0x0, "\xAC!"));
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].type, Event::Type::message);
  EXPECT_EQ(f.events[0].payload, "\xE2\x82\xAC!");
}

TEST(WebSocketReceiver, PingAndPong) {
  Receiver rx(kMax);
  Fed f = feed(rx, client_frame(0x9, "p") + client_frame(0x9, std::string(125, 'x')) + client_frame(0xA, "u"));
  ASSERT_EQ(f.events.size(), 3u);
  EXPECT_EQ(f.events[0].type, Event::Type::ping);
  EXPECT_EQ(f.events[1].payload.size(), 125u);
  EXPECT_EQ(f.events[2].type, Event::Type::pong);
}

TEST(WebSocketReceiver, CloseFramesAndWhatFollowsThem) {
  {
    Receiver rx(kMax);
    const std::string close = client_frame(0x8, close_payload(1000, "bye"));
    Fed f = feed(rx, close + client_frame(0x1, "ignored"));
    EXPECT_EQ(f.used, close.size());  // nothing after the close is looked at
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].type, Event::Type::close);
    EXPECT_EQ(f.events[0].code, 1000);
    EXPECT_EQ(f.events[0].reason, "bye");
  }
  {
    Receiver rx(kMax);
    Fed f = feed(rx, client_frame(0x8, ""));
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].type, Event::Type::close);
    EXPECT_EQ(f.events[0].code, ws::close_code::no_status);
  }
  {
    Receiver rx(kMax);
    Fed f = feed(rx, client_frame(0x8, close_payload(4321)));
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0].code, 4321);
  }
}

TEST(WebSocketReceiver, MessageOfExactlyMaxSizeIsAccepted) {
  Receiver rx(kMax);
  Fed f = feed(rx, client_frame(0x2, std::string(kMax / 2, 'a'), false) +
                       client_frame(0x0, std::string(kMax - kMax / 2, 'b')));
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].type, Event::Type::message);
  EXPECT_EQ(f.events[0].payload.size(), kMax);
}

TEST(WebSocketReceiver, UnmaskedFramesAllowedWhenNotRequired) {
  Receiver rx(kMax, /*require_mask=*/false);
  Fed f = feed(rx, client_frame(0x1, "plain", true, false));
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].payload, "plain");
}

// ---- receiver: failures ----

struct FailCase {
  const char* name;
  std::string bytes;
  std::uint16_t code;
};

std::vector<FailCase> fail_cases() {
  std::string bad64 = "\x82\xFF\x80";
  bad64.append(7, '\0');
  bad64.append(4, 'm');
  return {
      {"unmasked", client_frame(0x1, "hi", true, false), 1002},
      {"rsv1", client_frame(0x1, "hi", true, true, 4), 1002},
      {"rsv2", client_frame(0x1, "hi", true, true, 2), 1002},
      {"rsv3", client_frame(0x2, "hi", true, true, 1), 1002},
      {"opcode3", client_frame(0x3, "x"), 1002},
      {"opcode7", client_frame(0x7, "x"), 1002},
      {"opcodeB", client_frame(0xB, "x"), 1002},
      {"opcodeF", client_frame(0xF, "x"), 1002},
      {"fragmented ping", client_frame(0x9, "x", false), 1002},
      {"fragmented close", client_frame(0x8, close_payload(1000), false), 1002},
      {"ping 126", client_frame(0x9, std::string(126, 'p')), 1002},
      {"close 126", client_frame(0x8, close_payload(1000, std::string(124, 'r'))), 1002},
      {"lone continuation", client_frame(0x0, "x"), 1002},
      {"text inside fragmented", client_frame(0x1, "a", false) + client_frame(0x1, "b"), 1002},
      {"binary inside fragmented", client_frame(0x2, "a", false) + client_frame(0x2, "b"), 1002},
      {"close with 1 byte", client_frame(0x8, "\x03"), 1002},
      {"close code 1005", client_frame(0x8, close_payload(1005)), 1002},
      {"close code 1006", client_frame(0x8, close_payload(1006)), 1002},
      {"close code 999", client_frame(0x8, close_payload(999)), 1002},
      {"close code 5000", client_frame(0x8, close_payload(5000)), 1002},
      {"64-bit length top bit", bad64, 1002},
      {"invalid utf8", client_frame(0x1, "\xFF"), 1007},
      {"surrogate", client_frame(0x1, "a\xED\xA0\x80"), 1007},
      {"truncated utf8 at end", client_frame(0x1, "\xE2\x82"), 1007},
      {"invalid utf8 in a fragment", client_frame(0x1, "ok", false) + client_frame(0x0, "\xC0\xAF", false), 1007},
      {"truncated utf8 across fragments", client_frame(0x1, "\xF0\x9F", false) + client_frame(0x0, "\x98"), 1007},
      {"close reason not utf8", client_frame(0x8, close_payload(1000, "\xFF")), 1007},
      {"single frame over max", client_frame(0x2, std::string(kMax + 1, 'x')), 1009},
      {"fragments over max", client_frame(0x2, std::string(kMax, 'x'), false) + client_frame(0x0, "y"), 1009},
  };
}

TEST(WebSocketReceiver, EachViolationFailsWithItsCloseCode) {
  for (const FailCase& c : fail_cases()) {
    Receiver rx(kMax);
    Fed f = feed(rx, c.bytes);
    ASSERT_FALSE(f.events.empty()) << c.name;
    const Event& last = f.events.back();
    EXPECT_EQ(last.type, Event::Type::fail) << c.name;
    EXPECT_EQ(last.code, c.code) << c.name << ": " << last.reason;
    EXPECT_FALSE(last.reason.empty()) << c.name;
    EXPECT_TRUE(rx.draining()) << c.name;
    EXPECT_EQ(f.used, c.bytes.size()) << c.name;
  }
}

// The size limit is enforced from the header: nothing of the payload needs to have arrived.
TEST(WebSocketReceiver, OversizeDetectedFromTheHeaderAlone) {
  Receiver rx(kMax);
  std::string frame = client_frame(0x2, std::string(kMax * 10, 'x'));
  Fed f = feed(rx, std::string_view(frame).substr(0, 14));
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].type, Event::Type::fail);
  EXPECT_EQ(f.events[0].code, 1009);
}

// Invalid UTF-8 fails as soon as the fragment carrying it is complete, before the message ends.
TEST(WebSocketReceiver, InvalidUtf8FailsFastWithinAFragmentedMessage) {
  Receiver rx(kMax);
  Fed f = feed(rx, client_frame(0x1, "fine", false) + client_frame(0x0, "\xFF", false));
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].code, 1007);
}

// ---- receiver: draining after the server's close ----

// After a 1009 the rest of the oversized payload is skipped as it arrives (never parsed as
// frames, even though 'x' bytes look like a close header), then the client's close is found.
TEST(WebSocketReceiver, DrainSkipsTheRejectedPayloadThenFindsTheClientsClose) {
  Receiver rx(kMax);
  const std::string big = client_frame(0x2, std::string(kMax * 3, 'x'));
  const std::string reply = client_frame(0x8, close_payload(1009));
  const std::string stream = big + reply;
  std::vector<Event> events;
  std::size_t offset = 0;
  // Deliver in 100-byte reads, the caller dropping what feed() consumed each time.
  std::string pending;
  for (std::size_t pos = 0; pos < stream.size(); pos += 100) {
    pending += stream.substr(pos, 100);
    std::size_t used = rx.feed(pending, events);
    pending.erase(0, used);
    offset += used;
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, Event::Type::fail);
  EXPECT_EQ(events[0].code, 1009);
  EXPECT_EQ(events[1].type, Event::Type::close);
  EXPECT_EQ(events[1].code, 1009);
  EXPECT_EQ(offset, stream.size());
}

TEST(WebSocketReceiver, DrainFindsACloseInTheSameRead) {
  Receiver rx(kMax);
  Fed f = feed(rx, client_frame(0x1, "x", true, false) + client_frame(0x1, "more") + client_frame(0x8, close_payload(1000)));
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_EQ(f.events[0].code, 1002);
  EXPECT_EQ(f.events[1].type, Event::Type::close);
  EXPECT_EQ(f.events[1].code, 1000);
}

// A 64-bit length with its top bit set leaves no frame boundary to trust: what follows is
// dropped whole, and a close frame in it is not taken -- whether it came in the same read or a
// later one (found by fuzz/ws_frame: the two used to differ).
TEST(WebSocketReceiver, NoCloseIsFoundAfterAMalformedLength) {
  std::string bad64 = "\x82\xFF\x80";
  bad64.append(7, '\0');
  bad64.append(4, 'm');
  const std::string close = client_frame(0x8, close_payload(1000));
  Receiver together(kMax);
  Fed a = feed(together, bad64 + close);
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_EQ(a.events[0].code, 1002);
  EXPECT_EQ(a.used, bad64.size() + close.size());
  Receiver apart(kMax);
  Fed b = feed(apart, bad64);
  ASSERT_EQ(b.events.size(), 1u);
  Fed c = feed(apart, close);
  EXPECT_TRUE(c.events.empty());
  EXPECT_EQ(c.used, close.size());
}

TEST(WebSocketReceiver, DrainIgnoresDataAndWaitsForAWholeClose) {
  Receiver rx(kMax);
  rx.start_draining();
  const std::string close = client_frame(0x8, close_payload(1000, "done"));
  Fed a = feed(rx, client_frame(0x1, "late data") + close.substr(0, 3));
  EXPECT_TRUE(a.events.empty());
  Fed b = feed(rx, close);
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(b.events[0].type, Event::Type::close);
  EXPECT_EQ(b.events[0].reason, "done");
}

}  // namespace
