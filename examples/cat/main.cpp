// cat — stdin to a TCP, TLS (or Unix) peer, and the peer's replies to stdout, like `nc` (or
// `openssl s_client`) but on one gnet loop. stdin and stdout are enrolled as stream connections
// (Client::enroll): a terminal or an inherited descriptor is served through relay threads that
// never change its flags; a pipe this process owns alone can be served by the loop directly
// (--owned).
//
//   build/examples/cat --connect tcp://127.0.0.1:9000 < request.bin > reply.bin
//   build/examples/cat --connect unix:///tmp/echo.sock          (interactive: Ctrl-D ends input)
//   build/examples/cat --connect tls://localhost:9443 --tls-ca ca.crt < request.bin
//
// TLS: a tls:// address (tls4://, tls6://) is dialed with TLS; the server's certificate is
// verified against --tls-ca (default: the system's store) and the host dialed (or
// --tls-server-name), unless --tls-insecure. A handshake that fails is the dial's error, named
// (expired, untrusted, host mismatch, ...) with OpenSSL's own words after it. End of input is
// close_notify, then TCP's FIN.
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
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

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

// The library's log lines go to stderr as usual (info and above); the debug line that gives
// OpenSSL's reason for a failed handshake ("tls ADDR: ...") is kept to be printed with the error.
struct TlsDetail {
  std::mutex mu;
  std::string last;
  gnet::LogSink fallback = gnet::stderr_logger(gnet::LogLevel::info);

  void log(gnet::LogLevel level, std::string_view message) {
    if (level == gnet::LogLevel::debug) {
      if (message.substr(0, 4) == "tls ") {
        std::lock_guard lock(mu);
        last.assign(message);
      }
      return;
    }
    fallback(level, message);
  }
  std::string take() {
    std::lock_guard lock(mu);
    return std::move(last);
  }
};

bool is_tls_address(std::string_view address) {
  for (std::string_view scheme : {"tls://", "tls4://", "tls6://"}) {
    if (address.substr(0, scheme.size()) == scheme) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gnet-cpp cat: stdin to a peer, its replies to stdout"};
  std::string address;
  int timeout_ms = 5000;
  bool owned = false;
  std::string tls_ca, tls_server_name;
  bool tls_insecure = false;
  std::vector<std::string> tls_alpn;
  app.add_option("--connect", address, "peer address: tcp://host:port, tls://host:port or unix:///path")->required();
  app.add_option("--timeout-ms", timeout_ms, "connect timeout")->check(CLI::Range(1, 3600000));
  app.add_flag("--owned", owned,
               "serve stdin/stdout directly (O_NONBLOCK) instead of through relay threads; only for "
               "pipes no other process uses");
  app.add_option("--tls-ca", tls_ca, "tls://: trust the CAs in this PEM file (default: the system's store)");
  app.add_option("--tls-server-name", tls_server_name,
                 "tls://: the name sent as SNI and verified in the certificate (default: the host dialed)");
  app.add_flag("--tls-insecure", tls_insecure, "tls://: do not verify the server's certificate (testing only)");
  app.add_option("--tls-alpn", tls_alpn, "tls://: offer this ALPN protocol, e.g. http/1.1 (repeatable, in preference order)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  CLI11_PARSE(app, argc, argv);
  const bool tls = is_tls_address(address);
  if (!tls && (!tls_ca.empty() || !tls_server_name.empty() || tls_insecure || !tls_alpn.empty())) {
    std::fprintf(stderr, "cat: --tls-* flags need a tls:// address (got %s)\n", address.c_str());
    return 2;
  }
  if (tls_insecure && !tls_ca.empty()) {
    std::fprintf(stderr, "cat: --tls-insecure verifies nothing, so --tls-ca would go unused\n");
    return 2;
  }

  gnet::Options options;
  options.num_event_loop = 1;
  TlsDetail detail;
  if (tls) {
    options.tls.ca_file = tls_ca;
    options.tls.server_name = tls_server_name;
    options.tls.verify_server = !tls_insecure;
    options.tls.alpn = tls_alpn;
    options.logger = [&detail](gnet::LogLevel level, std::string_view message) { detail.log(level, message); };
    if (tls_insecure) {
      std::fprintf(stderr, "cat: --tls-insecure: the server's certificate is NOT verified; anyone on the path "
                           "can read and change this connection\n");
    }
  }

  Cat cat;
  auto done = cat.finished.get_future();
  gnet::Client client(cat, options);
  if (auto r = client.start(); !r) {
    std::fprintf(stderr, "cat: %s\n", r.error().message().c_str());
    return 1;
  }
  auto peer = client.dial_sync(address, std::chrono::milliseconds(timeout_ms));
  if (!peer) {
    std::fprintf(stderr, "cat: %s\n", peer.error().message().c_str());
    if (peer.error().code().category() == gnet::tls_category()) {
      // The library's line is "tls ADDR: <the reason above>: <OpenSSL's words>".
      const std::string line = detail.take();
      const std::string reason = peer.error().code().message() + ": ";
      if (const auto at = line.find(reason); at != std::string::npos && at + reason.size() < line.size()) {
        std::fprintf(stderr, "cat: OpenSSL: %s\n", line.c_str() + at + reason.size());
      }
    }
    client.stop();
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
