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
// pair closes, or the descriptor ends. The connection closing only means its bytes reached the
// pair: the writer may still be passing them on. So the engine keeps a Relay::Finished for each
// relay and waits for them when it stops (bounded by shutdown_timeout), before run() returns: a
// program that exits after Client::stop() has written everything it wrote.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>

#include "gnet/unique_function.hpp"
#include <memory>
#include <mutex>

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
  using EofMark = UniqueFunction<void(std::uint64_t at, UniqueFunction<void()> ack)>;

  // Says when a relay's threads have ended. Any thread.
  class Finished {
   public:
    // True once both threads have ended; false if the deadline came first.
    bool wait_until(std::chrono::steady_clock::time_point deadline);

   private:
    friend class Relay;
    std::mutex mu_;
    std::condition_variable cv_;
    int running_ = 0;
  };

  // The socket pair: the loop's end (non-blocking) and the relay's (blocking).
  static Result<std::pair<int, int>> make_pair();
  // Starts the threads for plan.fd; they own it and relay_end from now on.
  static std::shared_ptr<Finished> start(const RelayPlan& plan, int relay_end, EofMark on_eof_mark);
};

}  // namespace gnet::detail
