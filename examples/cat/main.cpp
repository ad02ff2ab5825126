// cat — stdin to a TCP (or Unix) peer, and the peer's replies to stdout, like `nc` but on one
// gnet loop. stdin and stdout are enrolled as stream connections (Client::enroll): a terminal
// or an inherited descriptor is served through relay threads that never change its flags; a
// pipe this process owns alone can be served by the loop directly (--owned).
//
//   build/examples/cat --connect tcp://127.0.0.1:9000 < request.bin > reply.bin
//   build/examples/cat --connect unix:///tmp/echo.sock          (interactive: Ctrl-D ends input)
//
// Flow: stdin's bytes go to the peer; when stdin ends, the peer's write side is shut (a
// half-close), and the peer's replies keep flowing to stdout until it closes. Backpressure both
// ways: a side whose destination is over the write cap stops being read until it drains.
// Exit status: 0 when the peer closed cleanly and stdout took everything, 1 on an error (named
// on stderr), 2 for bad flags.
#include <CLI/CLI.hpp>
#include <gnet/gnet.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <system_error>

namespace {

enum class Role { peer, out, in };

struct Cat final : gnet::EventHandler {
  // Loop thread only (one loop): the three connections, in the order they open.
  int opened = 0;
  gnet::ConnHandle peer, out, in;
  std::error_code failure;  // the first error, reported at exit
  std::promise<void> finished;
  bool finished_set = false;

  gnet::Conn* find(const gnet::ConnHandle& h, gnet::Conn& any) { return any.loop().lookup(h); }

  gnet::Action on_open(gnet::Conn& c) override {
    // main() dials the peer, then enrolls stdout, then stdin, each waiting for this callback.
    Role role = opened == 0 ? Role::peer : opened == 1 ? Role::out : Role::in;
    ++opened;
    c.set_context(role);
    (role == Role::peer ? peer : role == Role::out ? out : in) = c.handle();
    return gnet::Action::none;
  }

  gnet::Action on_traffic(gnet::Conn& c) override {
    Role role = *c.context<Role>();
    gnet::Conn* to = find(role == Role::in ? peer : out, c);
    if (to == nullptr) {  // nowhere to go any more
      c.discard();
      return gnet::Action::none;
    }
    to->write(c.next());
    if (to->outbound_full()) c.pause_read();  // resumed by the destination's on_low_water
    return gnet::Action::none;
  }

  void on_low_water(gnet::Conn& c) override {
    Role role = *c.context<Role>();
    if (gnet::Conn* from = find(role == Role::peer ? in : peer, c)) from->resume_read();
  }

  gnet::Action on_eof(gnet::Conn& c) override {
    if (*c.context<Role>() == Role::in) {
      if (gnet::Conn* p = find(peer, c)) p->shutdown_write();  // the peer hears our end of input
    }
    return gnet::Action::close;  // stdin done (Ctrl-D on a terminal too); the peer closes after it
  }

  gnet::Action on_close(gnet::Conn& c, std::error_code error) override {
    if (error && !failure) failure = error;
    switch (*c.context<Role>()) {
      case Role::peer:
        // The replies are all in out's queue: flush them, then finish. Input has nowhere to go.
        if (gnet::Conn* i = find(in, c)) i->close();
        if (gnet::Conn* o = find(out, c)) {
          o->close();
        } else {
          finish();
        }
        break;
      case Role::out:
        if (gnet::Conn* p = find(peer, c)) p->close();
        if (gnet::Conn* i = find(in, c)) i->close();
        finish();
        break;
      case Role::in:
        break;
    }
    return gnet::Action::none;
  }

  void finish() {
    if (finished_set) return;
    finished_set = true;
    finished.set_value();
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gnet-cpp cat: stdin to a peer, its replies to stdout"};
  std::string address;
  int timeout_ms = 5000;
  bool owned = false;
  app.add_option("--connect", address, "peer address: tcp://host:port or unix:///path")->required();
  app.add_option("--timeout-ms", timeout_ms, "connect timeout")->check(CLI::Range(1, 3600000));
  app.add_flag("--owned", owned,
               "serve stdin/stdout directly (O_NONBLOCK) instead of through relay threads; only for "
               "pipes no other process uses");
  CLI11_PARSE(app, argc, argv);

  Cat cat;
  auto done = cat.finished.get_future();
  gnet::Client client(cat, {.num_event_loop = 1});
  if (auto r = client.start(); !r) {
    std::fprintf(stderr, "cat: %s\n", r.error().message().c_str());
    return 1;
  }
  auto peer = client.dial_sync(address, std::chrono::milliseconds(timeout_ms));
  if (!peer) {
    std::fprintf(stderr, "cat: %s\n", peer.error().message().c_str());
    return 1;
  }
  gnet::EnrollOptions how{.sharing = owned ? gnet::Sharing::owned : gnet::Sharing::automatic};
  for (int fd : {STDOUT_FILENO, STDIN_FILENO}) {
    auto r = client.enroll(fd, how);
    if (!r) {
      std::fprintf(stderr, "cat: %s: %s\n", fd == STDIN_FILENO ? "stdin" : "stdout", r.error().message().c_str());
      client.stop();
      return 1;
    }
  }
  done.wait();
  client.stop();
  if (cat.failure) {
    std::fprintf(stderr, "cat: %s\n", cat.failure.message().c_str());
    return 1;
  }
  return 0;
}
