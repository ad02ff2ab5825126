// peer_libevent — echo server on libevent 2.1, the idiomatic way: an evconnlistener and one
// bufferevent per connection whose read callback moves the input evbuffer into the output
// evbuffer (evbuffer_add_buffer moves the chains, it does not copy bytes). Buffer management
// (chains, the FIONREAD-sized read) is libevent's own; no tuning beyond TCP_NODELAY.
#include "peer_common.hpp"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <csignal>
#include <cstdint>
#include <cstdio>

namespace {

void on_read(bufferevent* bev, void*) { evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev)); }

void on_event(bufferevent* bev, short what, void*) {
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) bufferevent_free(bev);
}

void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  auto* base = static_cast<event_base*>(arg);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  bufferevent* bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) {
    evutil_closesocket(fd);
    return;
  }
  bufferevent_setcb(bev, on_read, nullptr, on_event, nullptr);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

}  // namespace

int main(int argc, char** argv) {
  const int port = bench::parse_port(argc, argv);
  bench::raise_nofile();
  std::signal(SIGPIPE, SIG_IGN);
  event_base* base = event_base_new();
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<std::uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  evconnlistener* listener =
      evconnlistener_new_bind(base, on_accept, base, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE, bench::kBacklog,
                              reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  if (!listener) {
    std::perror("peer_libevent: listen");
    return 1;
  }
  bench::announce("peer_libevent", port);
  event_base_dispatch(base);
  evconnlistener_free(listener);
  event_base_free(base);
  return 0;
}
