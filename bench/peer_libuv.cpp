// peer_libuv — echo server on libuv, tuned the way a careful libuv user would write it:
// alloc_cb hands out one static 64 KiB buffer (no per-read malloc), the echo goes out with
// uv_try_write straight from that buffer, and only the remainder the kernel refuses is copied
// into a uv_write request. Reading pauses while more than 1 MiB is queued on a connection.
#include "peer_common.hpp"

#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr std::size_t kHighWater = 1 << 20;
char g_buf[64 * 1024];

struct Client {
  uv_tcp_t tcp;
  bool reading = false;
};

Client* client_of(uv_handle_t* h) { return static_cast<Client*>(h->data); }

void on_close(uv_handle_t* h) { delete client_of(h); }

void close_client(uv_stream_t* s) {
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(s))) uv_close(reinterpret_cast<uv_handle_t*>(s), on_close);
}

void on_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) { *buf = uv_buf_init(g_buf, sizeof g_buf); }

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);

void on_write(uv_write_t* req, int status) {
  uv_stream_t* s = req->handle;
  std::free(req);
  if (status < 0) {
    close_client(s);
    return;
  }
  Client* c = client_of(reinterpret_cast<uv_handle_t*>(s));
  if (!c->reading && s->write_queue_size == 0 && !uv_is_closing(reinterpret_cast<uv_handle_t*>(s))) {
    c->reading = uv_read_start(s, on_alloc, on_read) == 0;
  }
}

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {
    close_client(s);
    return;
  }
  if (nread == 0) return;  // EAGAIN
  uv_buf_t out = uv_buf_init(buf->base, static_cast<unsigned>(nread));
  int w = uv_try_write(s, &out, 1);  // UV_EAGAIN as well while earlier writes are queued
  if (w == nread) return;
  if (w < 0 && w != UV_EAGAIN) {
    close_client(s);
    return;
  }
  const std::size_t done = w > 0 ? static_cast<std::size_t>(w) : 0;
  const std::size_t rest = static_cast<std::size_t>(nread) - done;
  auto* req = static_cast<uv_write_t*>(std::malloc(sizeof(uv_write_t) + rest));
  char* copy = reinterpret_cast<char*>(req + 1);
  std::memcpy(copy, buf->base + done, rest);
  uv_buf_t wb = uv_buf_init(copy, static_cast<unsigned>(rest));
  if (uv_write(req, s, &wb, 1, on_write) != 0) {
    std::free(req);
    close_client(s);
    return;
  }
  if (s->write_queue_size > kHighWater) {
    uv_read_stop(s);
    client_of(reinterpret_cast<uv_handle_t*>(s))->reading = false;
  }
}

void on_connection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* c = new Client;
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  auto* s = reinterpret_cast<uv_stream_t*>(&c->tcp);
  if (uv_accept(server, s) != 0) {
    close_client(s);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  c->reading = uv_read_start(s, on_alloc, on_read) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int port = bench::parse_port(argc, argv);
  bench::raise_nofile();
  uv_loop_t* loop = uv_default_loop();
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", port, &addr);
  int rc = uv_tcp_bind(&server, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server), bench::kBacklog, on_connection);
  if (rc != 0) {
    std::fprintf(stderr, "peer_libuv: listen: %s\n", uv_strerror(rc));
    return 1;
  }
  bench::announce("peer_libuv", port);
  return uv_run(loop, UV_RUN_DEFAULT);
}
