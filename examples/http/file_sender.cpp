// examples/http/file_sender.cpp — see file_sender.hpp.
#include "file_sender.hpp"

#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace http_example {
namespace {

// One piece of a file copied through gnet's queue.
constexpr std::size_t kPiece = 64 * 1024;

char* piece_buffer() {
  thread_local std::unique_ptr<char[]> buffer = std::make_unique_for_overwrite<char[]>(kPiece);
  return buffer.get();
}

void advance(FileBody& body, std::size_t n) {
  body.offset += n;
  body.remaining -= n;
}

}  // namespace

SendState send_file(gnet::Conn& conn, FileBody& body, std::size_t burst) {
  // TLS: the bytes must be encrypted, so they always go through conn.write() (gnet sends the
  // ciphertext at once while the socket takes it); sendfile(2) would put plaintext on the wire.
  const bool tls = conn.tls();
  std::size_t direct = 0;  // bytes that went to the socket without waiting in the queue
  while (body.remaining > 0) {
    if (conn.outbound_full()) return SendState::wait_for_drain;
    if (conn.outbound_buffered() == 0 && direct >= burst) return SendState::yielded;
    if (conn.outbound_buffered() == 0 && !tls) {
      off_t offset = static_cast<off_t>(body.offset);
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(body.remaining, burst - direct));
      const ssize_t n = ::sendfile(conn.fd(), body.file.get(), &offset, want);
      if (n > 0) {
        advance(body, static_cast<std::size_t>(n));
        direct += static_cast<std::size_t>(n);
        continue;
      }
      if (n == 0) return SendState::failed;  // the file shrank: its Content-Length is a lie now
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return SendState::failed;
      // The socket's buffer is full: the next pieces go through the queue.
    }
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(body.remaining, kPiece));
    char* buffer = piece_buffer();
    const ssize_t n = ::pread(body.file.get(), buffer, want, static_cast<off_t>(body.offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return SendState::failed;
    const bool queue_was_empty = conn.outbound_buffered() == 0;
    if (conn.write(std::string_view(buffer, static_cast<std::size_t>(n)))) return SendState::failed;
    advance(body, static_cast<std::size_t>(n));
    // TLS: a write into an empty queue may go straight out, as sendfile's bytes do; counted
    // against the burst so one fast reader cannot hold the loop.
    if (tls && queue_was_empty) direct += static_cast<std::size_t>(n);
  }
  return SendState::done;
}

}  // namespace http_example
