// Fuzz harness: the WebSocket frame decoder of examples/websocket (ws::Receiver), fed the way the
// server feeds it: bytes arrive in pieces, the server appends them to what is still unconsumed,
// calls feed() and drops the bytes it says it consumed.
//
// Input: byte 0 = mode, byte 1 = max_message (1 + 16 * byte), byte 2 = cut seed (chunk lengths
// from a xorshift, 1 to 1 + byte % 64 bytes; 0 means one piece), then the body.
//   mode even: the body is a raw client byte stream.
//   mode odd:  the body describes client frames (spec byte: opcode, FIN, length form, masked or
//              not; a length byte; the payload bytes), which the harness encodes and masks as a
//              client would, while a small model of RFC 6455 works out the events they must give.
// Checked, every time:
//   - feed() never consumes more than it was given;
//   - fed in pieces, the receiver reports exactly the events (type, opcode, payload, code) it
//     reports for the whole stream at once, and consumes the same bytes when no close ended it;
//   - at most one fail, with 1002, 1007 or 1009; after it, only the client's close; nothing after
//     a close; messages within max_message, text ones valid UTF-8 (reference decoder); ping and
//     pong payloads within 125 bytes; a close outside draining carries 1005 with no reason or a
//     code allowed on the wire and a UTF-8 reason;
//   - encoded frames: the events are exactly the model's (messages reassembled and unmasked,
//     control frames answered where they stand, the first violation's close code).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ws_codec.hpp"
#include "ws_utf8_reference.hpp"

namespace {

using ws::Event;
using ws::Opcode;

// Long payloads are built from a few input bytes; past this the stream is cut (at a frame end)
// so that one input cannot take seconds.
constexpr std::size_t kMaxStream = 16 * 1024;

struct Cutter {
  std::uint32_t rng;
  std::uint8_t seed;
  std::size_t next(std::size_t left) {
    if (seed == 0) return left;
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return std::min<std::size_t>(left, 1 + rng % (1u + seed % 64u));
  }
};

bool same(const Event& a, const Event& b) {
  if (a.type != b.type || a.code != b.code) return false;
  switch (a.type) {
    case Event::Type::message: return a.opcode == b.opcode && a.payload == b.payload;
    case Event::Type::ping:
    case Event::Type::pong: return a.payload == b.payload;
    case Event::Type::close: return a.reason == b.reason;
    case Event::Type::fail: return true;  // reasons are prose
  }
  return false;
}

bool same(const std::vector<Event>& a, const std::vector<Event>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}

bool has_close(const std::vector<Event>& events) {
  for (const Event& e : events) {
    if (e.type == Event::Type::close) return true;
  }
  return false;
}

// Feeds stream in pieces as the server does; stops once a close event came (the server closes).
// Returns the bytes consumed in total.
std::size_t feed_in_pieces(ws::Receiver& rx, std::string_view stream, Cutter cut, std::vector<Event>& events) {
  std::string buffered;
  std::size_t consumed = 0;
  std::size_t pos = 0;
  while (pos < stream.size() && !has_close(events)) {
    const std::size_t n = cut.next(stream.size() - pos);
    buffered.append(stream.substr(pos, n));
    pos += n;
    const std::size_t used = rx.feed(buffered, events);
    if (used > buffered.size()) std::abort();
    buffered.erase(0, used);
    consumed += used;
  }
  return consumed;
}

void check_invariants(const std::vector<Event>& events, std::size_t max_message) {
  bool failed = false;
  bool closed = false;
  for (const Event& e : events) {
    if (closed) std::abort();  // nothing after the client's close
    switch (e.type) {
      case Event::Type::message:
        if (failed) std::abort();
        if (e.payload.size() > max_message) std::abort();
        if (e.opcode != Opcode::text && e.opcode != Opcode::binary) std::abort();
        if (e.opcode == Opcode::text && ws_fuzz::reference(e.payload) != ws_fuzz::Verdict::valid) std::abort();
        break;
      case Event::Type::ping:
      case Event::Type::pong:
        if (failed) std::abort();
        if (e.payload.size() > ws::kMaxControlPayload) std::abort();
        break;
      case Event::Type::close:
        closed = true;
        if (failed) break;  // while draining, the close is taken as it comes
        if (e.code == ws::close_code::no_status) {
          if (!e.reason.empty()) std::abort();
        } else if (!ws::is_valid_close_code(e.code) ||
                   ws_fuzz::reference(e.reason) != ws_fuzz::Verdict::valid ||
                   e.reason.size() > ws::kMaxControlPayload - 2) {
          std::abort();
        }
        break;
      case Event::Type::fail:
        if (failed) std::abort();
        failed = true;
        if (e.code != ws::close_code::protocol_error && e.code != ws::close_code::invalid_data &&
            e.code != ws::close_code::too_big) {
          std::abort();
        }
        break;
    }
  }
}

// ---- encoded mode: client frames and the model of what they must produce ----

struct Frame {
  Opcode opcode;
  bool fin;
  bool masked;
  int length_form;  // 0: minimal, 1: 16-bit, 2: 64-bit (the receiver accepts non-minimal forms)
  std::string payload;
};

std::string encode(const Frame& f, std::uint32_t& rng) {
  std::string out;
  out.push_back(static_cast<char>((f.fin ? 0x80 : 0) | static_cast<int>(f.opcode)));
  const std::uint64_t n = f.payload.size();
  const char mask_bit = f.masked ? static_cast<char>(0x80) : 0;
  int form = f.length_form;
  if (form == 0) form = n < 126 ? -1 : (n <= 0xFFFF ? 1 : 2);
  if (form == -1) {
    out.push_back(static_cast<char>(mask_bit | static_cast<char>(n)));
  } else if (form == 1 && n <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xFF));
  }
  if (!f.masked) return out + f.payload;
  rng = rng * 1664525u + 1013904223u;
  const std::array<std::uint8_t, 4> key = {static_cast<std::uint8_t>(rng >> 24), static_cast<std::uint8_t>(rng >> 16),
                                           static_cast<std::uint8_t>(rng >> 8), static_cast<std::uint8_t>(rng)};
  for (std::uint8_t k : key) out.push_back(static_cast<char>(k));
  for (std::size_t i = 0; i < f.payload.size(); ++i) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(f.payload[i]) ^ key[i & 3]));
  }
  return out;
}

Event fail(std::uint16_t code) {
  Event e;
  e.type = Event::Type::fail;
  e.code = code;
  return e;
}

Event close_event(const std::string& payload) {
  Event e;
  e.type = Event::Type::close;
  e.code = ws::close_code::no_status;
  if (payload.size() >= 2) {
    e.code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                        static_cast<std::uint8_t>(payload[1]));
    e.reason = payload.substr(2);
  }
  return e;
}

// RFC 6455 as this server applies it, frame by frame.
std::vector<Event> model(const std::vector<Frame>& frames, std::size_t max_message) {
  std::vector<Event> out;
  bool draining = false;
  bool in_message = false;
  Opcode message_opcode = Opcode::text;
  std::string message;
  for (const Frame& f : frames) {
    const bool control = (static_cast<int>(f.opcode) & 0x8) != 0;
    if (draining) {  // skip everything up to the client's close
      if (f.opcode == Opcode::close && f.payload.size() <= ws::kMaxControlPayload) {
        out.push_back(close_event(f.payload));
        return out;
      }
      continue;
    }
    auto violation = [&](std::uint16_t code) {
      out.push_back(fail(code));
      draining = true;
    };
    if (!f.masked) {
      violation(ws::close_code::protocol_error);
      continue;
    }
    if (control) {
      if (!f.fin || f.payload.size() > ws::kMaxControlPayload) {
        violation(ws::close_code::protocol_error);
        continue;
      }
      if (f.opcode == Opcode::ping || f.opcode == Opcode::pong) {
        Event e;
        e.type = f.opcode == Opcode::ping ? Event::Type::ping : Event::Type::pong;
        e.payload = f.payload;
        out.push_back(std::move(e));
        continue;
      }
      Event e = close_event(f.payload);
      if (f.payload.size() == 1 || (f.payload.size() >= 2 && !ws::is_valid_close_code(e.code))) {
        violation(ws::close_code::protocol_error);
        continue;
      }
      if (ws_fuzz::reference(e.reason) != ws_fuzz::Verdict::valid) {
        violation(ws::close_code::invalid_data);
        continue;
      }
      out.push_back(std::move(e));
      return out;
    }
    if (f.opcode == Opcode::continuation ? !in_message : in_message) {
      violation(ws::close_code::protocol_error);
      continue;
    }
    const std::size_t so_far = f.opcode == Opcode::continuation ? message.size() : 0;
    if (so_far + f.payload.size() > max_message) {
      violation(ws::close_code::too_big);
      continue;
    }
    if (f.opcode != Opcode::continuation) {
      message_opcode = f.opcode;
      message.clear();
    }
    message += f.payload;
    if (message_opcode == Opcode::text && ws_fuzz::reference(message) == ws_fuzz::Verdict::invalid) {
      violation(ws::close_code::invalid_data);
      continue;
    }
    in_message = !f.fin;
    if (in_message) continue;
    if (message_opcode == Opcode::text && ws_fuzz::reference(message) != ws_fuzz::Verdict::valid) {
      violation(ws::close_code::invalid_data);
      continue;
    }
    Event e;
    e.type = Event::Type::message;
    e.opcode = message_opcode;
    e.payload = std::move(message);
    message.clear();
    out.push_back(std::move(e));
  }
  return out;
}

// Spec byte: bits 0-2 opcode (0-5: continuation, text, binary, close, ping, pong; 6, 7: text),
// bit 3 FIN, bits 4-5 length form, bit 6 unmasked, bit 7 long payload (length byte * 17).
std::vector<Frame> parse_specs(std::string_view body) {
  static constexpr Opcode kOps[8] = {Opcode::continuation, Opcode::text, Opcode::binary, Opcode::close,
                                     Opcode::ping,         Opcode::pong, Opcode::text,   Opcode::text};
  std::vector<Frame> frames;
  std::size_t pos = 0;
  while (pos + 2 <= body.size()) {
    const auto spec = static_cast<std::uint8_t>(body[pos]);
    const auto len_byte = static_cast<std::uint8_t>(body[pos + 1]);
    pos += 2;
    Frame f;
    f.opcode = kOps[spec & 7];
    f.fin = (spec & 0x08) != 0;
    f.length_form = ((spec >> 4) & 3) % 3;
    f.masked = (spec & 0x40) == 0;
    const std::size_t want = (spec & 0x80) ? std::size_t{len_byte} * 17 : len_byte;
    const std::size_t take = std::min(want, body.size() - pos);
    f.payload.assign(body.substr(pos, take));
    pos += take;
    // Long payloads repeat what the input had, so a few bytes describe a big frame.
    while (f.payload.size() < want && take > 0) f.payload += f.payload.substr(0, want - f.payload.size());
    frames.push_back(std::move(f));
  }
  return frames;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const bool encoded = (data[0] & 1) != 0;
  const std::size_t max_message = 1 + std::size_t{data[1]} * 16;
  const Cutter cut{0x9E3779B9u ^ data[2], data[2]};
  const std::string_view body(reinterpret_cast<const char*>(data + 3), size - 3);

  std::string stream;
  std::vector<Frame> frames;
  if (encoded) {
    frames = parse_specs(body);
    std::uint32_t rng = 12345u ^ data[0];
    std::size_t kept = 0;
    for (; kept < frames.size() && stream.size() < kMaxStream; ++kept) stream += encode(frames[kept], rng);
    frames.resize(kept);
  } else {
    stream.assign(body);
  }

  ws::Receiver whole_rx(max_message);
  std::vector<Event> whole;
  const std::size_t whole_used = whole_rx.feed(stream, whole);
  if (whole_used > stream.size()) std::abort();

  ws::Receiver pieces_rx(max_message);
  std::vector<Event> pieces;
  const std::size_t pieces_used = feed_in_pieces(pieces_rx, stream, cut, pieces);

  if (!same(whole, pieces)) std::abort();
  if (!has_close(whole) && whole_used != pieces_used) std::abort();
  check_invariants(whole, max_message);
  if (encoded && !same(whole, model(frames, max_message))) std::abort();
  return 0;
}
