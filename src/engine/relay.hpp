// Internal: serving a descriptor that another process shares (an inherited stdin or stdout, a
// terminal) without changing it. O_NONBLOCK belongs to the open file description, which the
// parent shell or a sibling process also uses: setting it would make their blocking reads fail
// with EAGAIN. So the loop never touches such a descriptor. A dedicated reader thread does the
// blocking reads and a dedicated writer thread the blocking writes; they relay through a Unix
// socket pair whose other end is an ordinary connection on the loop (every backend serves it
// like any socket, with the socket buffer as the bound on what waits in between).
//
// A terminal's zero-length read (Ctrl-D at the start of a line) ends nothing: the user may type
// on. The reader reports it as a mark at its position in the byte stream (Connection::eof_mark),
// and goes on reading. Any other end of input (a pipe's, a terminal's hang-up) shuts the
// relay's write side: the connection sees an ordinary end of input.
//
// The threads own the descriptor (and close it) and end on their own once the loop's end of the
// pair closes, or the descriptor ends.
#pragma once

#include <cstdint>
#include <functional>

#include "gnet/error.hpp"

namespace gnet::detail {

struct RelayPlan {
  int fd = -1;
  bool read = false;      // a reader thread: fd -> pair
  bool write = false;     // a writer thread: pair -> fd
  bool terminal = false;  // zero-length reads are marks, not the end
};

class Relay {
 public:
  // Reports a terminal's zero-length read at this many bytes into the stream (from the reader
  // thread); the loop calls ack once on_eof has run for it, and the reader waits for that (or
  // for ack to be dropped, when the connection closes) before it relays another byte.
  using EofMark = std::function<void(std::uint64_t at, std::function<void()> ack)>;

  // The socket pair: the loop's end (non-blocking) and the relay's (blocking).
  static Result<std::pair<int, int>> make_pair();
  // Starts the threads for plan.fd; they own it and relay_end from now on.
  static void start(const RelayPlan& plan, int relay_end, EofMark on_eof_mark);
};

}  // namespace gnet::detail
