// ws_codec.hpp — RFC 6455 framing: parse client frames, build server frames.
//
// Pure code, no sockets: the server feeds it the bytes a connection has buffered and gets back
// how many it may consume plus the events those bytes carried. Incomplete frames are never
// consumed, so the caller leaves them in its input buffer until more bytes arrive.
//
// What the Receiver enforces (each failure names the close code the server must send):
//   1002 protocol error   RSV1-3 set (no extension is negotiated), reserved opcode, unmasked
//                         client frame, control frame fragmented or over 125 bytes, continuation
//                         without a message in progress, new data frame inside a fragmented one,
//                         64-bit length with the top bit set, close payload of 1 byte or with a
//                         code that may not appear on the wire
//   1007 invalid data     text message (checked across fragments) or close reason not UTF-8
//   1009 too big          a message (all its fragments together) over max_message bytes; caught
//                         from the frame header, before the payload is buffered
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "utf8.hpp"

namespace ws {

enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// Close status codes (RFC 6455 §7.4.1) used by this server.
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t no_status = 1005;  // never on the wire: "close frame had no code"
inline constexpr std::uint16_t invalid_data = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t too_big = 1009;
inline constexpr std::uint16_t internal_error = 1011;
}  // namespace close_code

inline constexpr std::size_t kMaxControlPayload = 125;
inline constexpr std::size_t kMaxHeaderSize = 14;  // 2 + 8 (length) + 4 (mask)

// Whether a peer may send this code in a close frame: 1000-1003, 1007-1014, 3000-4999.
bool is_valid_close_code(std::uint16_t code) noexcept;

// ---- building (server → client: never masked) ----

// Appends one frame to out.
void append_frame(std::string& out, Opcode opcode, std::string_view payload, bool fin = true);
std::string build_frame(Opcode opcode, std::string_view payload, bool fin = true);
// A close frame carrying code and reason; code 0 builds an empty close frame. The reason is cut
// so the payload stays within 125 bytes.
void append_close_frame(std::string& out, std::uint16_t code, std::string_view reason = {});
std::string build_close_frame(std::uint16_t code, std::string_view reason = {});

// ---- parsing ----

struct FrameHeader {
  bool fin = false;
  std::uint8_t rsv = 0;  // RSV1..RSV3 as bits 2..0
  std::uint8_t opcode = 0;
  bool masked = false;
  std::array<std::uint8_t, 4> mask{};
  std::uint64_t payload_length = 0;
  std::size_t header_length = 0;  // bytes before the payload

  bool is_control() const noexcept { return (opcode & 0x8) != 0; }
};

enum class HeaderStatus { complete, incomplete, malformed };

// Decodes the header at the start of data. Checks nothing but the encoding itself (malformed =
// a 64-bit length with its top bit set); policy lives in Receiver.
HeaderStatus parse_frame_header(std::string_view data, FrameHeader& header) noexcept;

// XORs data with the masking key; offset is the position of data[0] within the payload.
void apply_mask(char* data, std::size_t size, const std::array<std::uint8_t, 4>& mask,
                std::size_t offset = 0) noexcept;

// One thing the client said.
struct Event {
  enum class Type {
    message,  // a complete text or binary message (fragments joined, text validated)
    ping,     // answer with a pong carrying payload
    pong,     // unsolicited or answering ours: nothing to do
    close,    // the client's close frame: code (1005 when it carried none) and reason
    fail,     // protocol violation: close with code; reason says what was wrong
  };
  Type type = Type::message;
  Opcode opcode = Opcode::text;  // message: text or binary
  std::string payload;           // message, ping, pong
  std::uint16_t code = 0;        // close, fail
  std::string reason;            // close, fail
};

// The receiving half of one server-side WebSocket connection.
class Receiver {
 public:
  explicit Receiver(std::size_t max_message, bool require_mask = true) noexcept
      : max_message_(max_message), require_mask_(require_mask) {}

  // Parses every complete frame at the start of data, appending events, and returns how many
  // bytes the caller may drop (whole frames only). Stops after the client's close event; the
  // bytes after it are not looked at. After a fail event the receiver is draining (see below):
  // it skips the offending frame, then the rest of data, and may append the client's close.
  std::size_t feed(std::string_view data, std::vector<Event>& events);

  // After the server sent a close frame of its own: from now on feed() consumes every byte,
  // skipping frames (payloads may arrive in pieces) until the client's close frame, for which
  // it emits a close event. Garbage is swallowed silently.
  void start_draining() noexcept;
  bool draining() const noexcept { return draining_; }

  // True while a fragmented message is being assembled.
  bool in_message() const noexcept { return in_message_; }
  std::size_t max_message() const noexcept { return max_message_; }

 private:
  std::size_t drain(std::string_view data, std::vector<Event>& events);
  std::size_t fail_and_drain(std::string_view data, std::size_t used, std::uint64_t skip,
                             std::uint16_t code, std::string reason, std::vector<Event>& events);
  static Event fail(std::uint16_t code, std::string reason);

  std::size_t max_message_;
  bool require_mask_;

  // fragmented message in progress
  bool in_message_ = false;
  Opcode message_opcode_ = Opcode::text;
  std::string message_;
  Utf8Validator utf8_;

  // draining
  bool draining_ = false;
  std::uint64_t skip_ = 0;  // payload bytes of the current frame still to skip
  // After a malformed header there are no frame boundaries left to find: every later byte is
  // dropped and no close frame is recognized in it (else a close would be found or not
  // depending on how the bytes were split into reads). The server's close timeout ends it.
  bool framing_lost_ = false;
};

}  // namespace ws
