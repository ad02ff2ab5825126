// ws_codec.cpp — see ws_codec.hpp.
#include "ws_codec.hpp"

#include <algorithm>

namespace ws {

bool is_valid_close_code(std::uint16_t code) noexcept {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;  // 1012-1014 registered with IANA since
  return code >= 3000 && code <= 4999;
}

// ---- building ----

void append_frame(std::string& out, Opcode opcode, std::string_view payload, bool fin) {
  const std::size_t n = payload.size();
  out.reserve(out.size() + n + 10);
  out.push_back(static_cast<char>((fin ? 0x80 : 0x00) | static_cast<std::uint8_t>(opcode)));
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>((n >> 8) & 0xFF));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    const auto n64 = static_cast<std::uint64_t>(n);
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((n64 >> shift) & 0xFF));
    }
  }
  out.append(payload);
}

std::string build_frame(Opcode opcode, std::string_view payload, bool fin) {
  std::string out;
  append_frame(out, opcode, payload, fin);
  return out;
}

void append_close_frame(std::string& out, std::uint16_t code, std::string_view reason) {
  if (code == 0) {
    append_frame(out, Opcode::close, {});
    return;
  }
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  reason = reason.substr(0, kMaxControlPayload - 2);
  // Do not cut a UTF-8 character in half (drop trailing continuation bytes and their lead).
  while (!reason.empty() && !is_valid_utf8(reason)) reason.remove_suffix(1);
  payload.append(reason);
  append_frame(out, Opcode::close, payload);
}

std::string build_close_frame(std::uint16_t code, std::string_view reason) {
  std::string out;
  append_close_frame(out, code, reason);
  return out;
}

// ---- parsing ----

HeaderStatus parse_frame_header(std::string_view data, FrameHeader& h) noexcept {
  if (data.size() < 2) return HeaderStatus::incomplete;
  const auto b0 = static_cast<std::uint8_t>(data[0]);
  const auto b1 = static_cast<std::uint8_t>(data[1]);
  h.fin = (b0 & 0x80) != 0;
  h.rsv = static_cast<std::uint8_t>((b0 >> 4) & 0x7);
  h.opcode = b0 & 0x0F;
  h.masked = (b1 & 0x80) != 0;
  std::size_t pos = 2;
  std::uint64_t len = b1 & 0x7F;
  if (len == 126) {
    if (data.size() < pos + 2) return HeaderStatus::incomplete;
    len = (static_cast<std::uint64_t>(static_cast<std::uint8_t>(data[2])) << 8) |
          static_cast<std::uint8_t>(data[3]);
    pos += 2;
  } else if (len == 127) {
    if (data.size() < pos + 8) return HeaderStatus::incomplete;
    len = 0;
    for (std::size_t i = 0; i < 8; ++i) {
      len = (len << 8) | static_cast<std::uint8_t>(data[pos + i]);
    }
    pos += 8;
    if (len >> 63) return HeaderStatus::malformed;
  }
  if (h.masked) {
    if (data.size() < pos + 4) return HeaderStatus::incomplete;
    for (std::size_t i = 0; i < 4; ++i) h.mask[i] = static_cast<std::uint8_t>(data[pos + i]);
    pos += 4;
  } else {
    h.mask = {};
  }
  h.payload_length = len;
  h.header_length = pos;
  return HeaderStatus::complete;
}

void apply_mask(char* data, std::size_t size, const std::array<std::uint8_t, 4>& mask,
                std::size_t offset) noexcept {
  for (std::size_t i = 0; i < size; ++i) {
    data[i] = static_cast<char>(static_cast<std::uint8_t>(data[i]) ^ mask[(offset + i) & 3]);
  }
}

Event Receiver::fail(std::uint16_t code, std::string reason) {
  Event e;
  e.type = Event::Type::fail;
  e.code = code;
  e.reason = std::move(reason);
  return e;
}

std::size_t Receiver::fail_and_drain(std::string_view data, std::size_t used, std::uint64_t skip,
                                     std::uint16_t code, std::string reason,
                                     std::vector<Event>& events) {
  events.push_back(fail(code, std::move(reason)));
  start_draining();
  skip_ = skip;
  return used + drain(data.substr(used), events);
}

void Receiver::start_draining() noexcept {
  draining_ = true;
  skip_ = 0;
  in_message_ = false;
  message_.clear();
  message_.shrink_to_fit();
}

std::size_t Receiver::feed(std::string_view data, std::vector<Event>& events) {
  if (draining_) return drain(data, events);
  std::size_t used = 0;
  while (used < data.size()) {
    const std::string_view rest = data.substr(used);
    FrameHeader h;
    const HeaderStatus status = parse_frame_header(rest, h);
    if (status == HeaderStatus::incomplete) break;
    if (status == HeaderStatus::malformed) {  // garbage: nothing after it can be trusted
      events.push_back(fail(close_code::protocol_error, "64-bit payload length with top bit set"));
      start_draining();
      framing_lost_ = true;
      return data.size();
    }
    // A failure found from the header skips that frame's payload (it may still be arriving),
    // then drains; one found after the frame is whole drains from the next frame on.
    auto reject_frame = [&](std::uint16_t code, std::string reason) {
      return fail_and_drain(data, used + h.header_length, h.payload_length, code,
                            std::move(reason), events);
    };
    auto reject_after = [&](std::uint16_t code, std::string reason) {
      return fail_and_drain(data, used, 0, code, std::move(reason), events);
    };

    // Policy checks that need only the header: fail before buffering the payload.
    if (h.rsv != 0) return reject_frame(close_code::protocol_error, "reserved bits set without an extension");
    const auto op = static_cast<Opcode>(h.opcode);
    const bool known = op == Opcode::continuation || op == Opcode::text || op == Opcode::binary ||
                       op == Opcode::close || op == Opcode::ping || op == Opcode::pong;
    if (!known) return reject_frame(close_code::protocol_error, "reserved opcode " + std::to_string(h.opcode));
    if (require_mask_ && !h.masked) return reject_frame(close_code::protocol_error, "client frame not masked");
    if (h.is_control()) {
      if (!h.fin) return reject_frame(close_code::protocol_error, "fragmented control frame");
      if (h.payload_length > kMaxControlPayload) {
        return reject_frame(close_code::protocol_error, "control frame payload over 125 bytes");
      }
    } else if (op == Opcode::continuation) {
      if (!in_message_) return reject_frame(close_code::protocol_error, "continuation frame without a message");
    } else if (in_message_) {
      return reject_frame(close_code::protocol_error, "new data frame inside a fragmented message");
    }
    if (!h.is_control()) {
      const std::uint64_t so_far = op == Opcode::continuation ? message_.size() : 0;
      if (h.payload_length > max_message_ || so_far + h.payload_length > max_message_) {
        return reject_frame(close_code::too_big, "message over " + std::to_string(max_message_) + " bytes");
      }
    }
    if (rest.size() - h.header_length < h.payload_length) break;  // wait for the whole frame

    const auto n = static_cast<std::size_t>(h.payload_length);
    const std::string_view masked_payload = rest.substr(h.header_length, n);
    used += h.header_length + n;

    if (h.is_control()) {
      std::string payload(masked_payload);
      apply_mask(payload.data(), payload.size(), h.mask);
      Event e;
      if (op == Opcode::ping || op == Opcode::pong) {
        e.type = op == Opcode::ping ? Event::Type::ping : Event::Type::pong;
        e.payload = std::move(payload);
        events.push_back(std::move(e));
        continue;
      }
      // close
      if (payload.size() == 1) return reject_after(close_code::protocol_error, "close payload of 1 byte");
      e.type = Event::Type::close;
      e.code = close_code::no_status;
      if (payload.size() >= 2) {
        e.code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                            static_cast<std::uint8_t>(payload[1]));
        if (!is_valid_close_code(e.code)) {
          return reject_after(close_code::protocol_error, "invalid close code " + std::to_string(e.code));
        }
        e.reason = payload.substr(2);
        if (!is_valid_utf8(e.reason)) return reject_after(close_code::invalid_data, "close reason is not UTF-8");
      }
      events.push_back(std::move(e));
      return used;  // nothing after the client's close frame counts
    }

    // data frame: text, binary or continuation
    if (op != Opcode::continuation) {
      message_opcode_ = op;
      message_.clear();
      utf8_.reset();
    }
    const std::size_t start = message_.size();
    message_.append(masked_payload);
    apply_mask(message_.data() + start, n, h.mask);
    if (message_opcode_ == Opcode::text && !utf8_.feed(std::string_view(message_).substr(start))) {
      return reject_after(close_code::invalid_data, "text message is not valid UTF-8");
    }
    if (!h.fin) {
      in_message_ = true;
      continue;
    }
    in_message_ = false;
    if (message_opcode_ == Opcode::text && !utf8_.complete()) {
      return reject_after(close_code::invalid_data, "text message ends inside a UTF-8 sequence");
    }
    Event e;
    e.type = Event::Type::message;
    e.opcode = message_opcode_;
    e.payload = std::move(message_);
    message_ = std::string();
    events.push_back(std::move(e));
  }
  return used;
}

std::size_t Receiver::drain(std::string_view data, std::vector<Event>& events) {
  if (framing_lost_) return data.size();
  std::size_t used = 0;
  while (used < data.size()) {
    if (skip_ > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, data.size() - used));
      skip_ -= n;
      used += n;
      continue;
    }
    const std::string_view rest = data.substr(used);
    FrameHeader h;
    const HeaderStatus status = parse_frame_header(rest, h);
    if (status == HeaderStatus::incomplete) return used;
    if (status == HeaderStatus::malformed) {
      framing_lost_ = true;
      return data.size();
    }
    if (static_cast<Opcode>(h.opcode) == Opcode::close && h.payload_length <= kMaxControlPayload) {
      if (rest.size() - h.header_length < h.payload_length) return used;  // wait for it whole
      std::string payload(rest.substr(h.header_length, static_cast<std::size_t>(h.payload_length)));
      apply_mask(payload.data(), payload.size(), h.mask);
      Event e;
      e.type = Event::Type::close;
      e.code = close_code::no_status;
      if (payload.size() >= 2) {
        e.code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                            static_cast<std::uint8_t>(payload[1]));
        e.reason = payload.substr(2);
      }
      events.push_back(std::move(e));
      return data.size();
    }
    used += h.header_length;
    skip_ = h.payload_length;
  }
  return used;
}

}  // namespace ws
