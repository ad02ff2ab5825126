// examples/http/file_sender.hpp — streams a static file's body into a gnet connection.
//
// Bytes stay in order and memory stays bounded:
// - sendfile(2) writes to the socket directly, so it runs only while the connection's
//   outbound queue is empty (outbound_buffered() == 0): nothing written earlier is still
//   waiting. It moves at most `burst` bytes per call, so one fast reader cannot hold the loop.
// - When the socket is full (EAGAIN) or bytes are already queued, the next pieces go through
//   gnet (pread into a per-thread 64 KiB buffer, conn.write) until the queue passes its cap:
//   gnet then watches the socket and calls on_low_water when the peer has read half, which is
//   the cue to call send_file again. A connection thus holds at most write_buffer_cap + 64 KiB
//   of a file, whatever its size, and no file is ever read whole.
// - TLS connections (conn.tls()) never use sendfile(2): the bytes must be encrypted by gnet, so
//   every piece goes through conn.write(); pieces written into an empty queue count against
//   `burst` like sendfile's, since gnet sends their ciphertext at once while the socket takes it.
#pragma once

#include <cstddef>

#include <gnet/gnet.hpp>

#include "http_app.hpp"

namespace http_example {

enum class SendState {
  done,            // the whole body is sent or queued
  wait_for_drain,  // the outbound queue is past its cap: call again from on_low_water
  yielded,         // `burst` bytes went out and the socket still takes more: call again soon
  failed,          // the file shrank or failed, or the socket did: close the connection
};

SendState send_file(gnet::Conn& conn, FileBody& body, std::size_t burst);

}  // namespace http_example
