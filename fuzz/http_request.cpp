// Fuzz harness: examples/http's RequestParser (heads, Content-Length and chunked bodies,
// pipelines). Input: one flags byte, one split-seed byte, then the bytes a client sends.
//
// The stream is parsed twice — one shot over all of it, and as a connection sees it, in pieces
// whose lengths come from the seed, resuming on what is left unconsumed — and the two must give
// the same sequence of requests (every field, every header, the body) and the same final
// verdict. Also checked: consumed is within the input and non-zero, every view of a request
// points into the bytes it consumed, limits hold (headers, decoded body, bytes per request,
// bytes left buffered while incomplete), and errors carry one of the documented statuses.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http_parser.hpp"

namespace {

using namespace http_example;

void require(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// Everything a caller can see of one parse() outcome, as a comparable string.
std::string describe(const ParseResult& r, const Request& req) {
  std::string d;
  if (r.state == ParseState::error) {
    d = "error " + std::to_string(r.status) + " " + std::string(r.reason);
    return d;
  }
  d = "request " + std::to_string(r.consumed);
  for (std::string_view f : {req.method, req.target, req.path, req.query}) {
    d += '|';
    d += f;
  }
  d += '|' + std::to_string(req.version_minor) + std::to_string(req.keep_alive) +
       std::to_string(req.expect_continue) + std::to_string(req.chunked);
  for (const Header& h : req.headers) {
    d += '|';
    d += h.name;
    d += ':';
    d += h.value;
  }
  d += "|body ";
  d += req.body();
  return d;
}

void check_complete(const ParseResult& r, const Request& req, std::string_view in,
                    const Limits& limits) {
  require(r.consumed > 0 && r.consumed <= in.size());
  require(r.consumed <= max_request_bytes(limits));
  const std::string_view used = in.substr(0, r.consumed);
  for (std::string_view f : {req.method, req.target, req.query}) require(inside(f, used));
  // An absolute-form target without a path ("http://h?q") has the path "/", a static string.
  require(inside(req.path, used) || req.path == "/");
  require(!req.method.empty() && !req.target.empty());
  require(req.headers.size() <= limits.max_headers);
  for (const Header& h : req.headers) require(inside(h.name, used) && inside(h.value, used));
  require(req.body().size() <= limits.max_body_bytes);
  if (!req.chunked) require(inside(req.body_view, used));
  require(req.version_minor == 0 || req.version_minor == 1);
}

void check_error(const ParseResult& r) {
  switch (r.status) {
    case 400: case 413: case 417: case 431: case 501: case 505:
      break;
    default:
      std::abort();
  }
  require(!r.reason.empty());
}

// One shot: the whole stream is in the buffer from the start.
std::vector<std::string> one_shot(std::string_view in, const Limits& limits) {
  std::vector<std::string> events;
  RequestParser parser(limits);
  Request req;
  std::size_t at = 0;
  while (at < in.size()) {
    const ParseResult r = parser.parse(in.substr(at), req);
    if (r.state == ParseState::incomplete) break;
    events.push_back(describe(r, req));
    if (r.state == ParseState::error) {
      check_error(r);
      return events;
    }
    check_complete(r, req, in.substr(at), limits);
    at += r.consumed;
  }
  if (at < in.size()) require(in.size() - at <= max_request_bytes(limits));
  events.push_back("incomplete");
  return events;
}

// As a connection: pieces arrive, complete requests are consumed, the rest waits.
std::vector<std::string> in_pieces(std::string_view in, const Limits& limits, std::uint32_t seed) {
  std::vector<std::string> events;
  RequestParser parser(limits);
  Request req;
  std::string pending;
  std::size_t fed = 0;
  std::uint32_t x = seed * 2654435761u + 1;
  while (fed < in.size()) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    // Mostly short pieces (splits everywhere), sometimes long ones (many requests per read).
    const std::size_t len = (x & 7) == 0 ? 1 + (x >> 8) % 4096 : 1 + (x >> 8) % 16;
    const std::size_t take = std::min(len, in.size() - fed);
    pending.append(in.substr(fed, take));
    fed += take;
    for (;;) {
      const ParseResult r = parser.parse(pending, req);
      if (r.state == ParseState::incomplete) {
        require(pending.size() <= max_request_bytes(limits));
        break;
      }
      events.push_back(describe(r, req));
      if (r.state == ParseState::error) return events;
      check_complete(r, req, pending, limits);
      pending.erase(0, r.consumed);
      if (pending.empty()) break;
    }
  }
  events.push_back("incomplete");
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  Limits limits;
  if (data[0] & 1) {
    // Small limits, so that inputs of a few hundred bytes reach every one of them.
    limits.max_head_bytes = 128;
    limits.max_headers = 4;
    limits.max_body_bytes = 64;
    limits.max_raw_body_bytes = 160;
    limits.max_chunk_line = 16;
    limits.max_trailer_bytes = 32;
  }
  const std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::vector<std::string> whole = one_shot(in, limits);
  const std::vector<std::string> split = in_pieces(in, limits, data[1]);
  require(whole == split);
  return 0;
}
