// resolve — resolves host names with c-ares, driven by one gnet loop.
//
//   build/examples/resolve example.org gnu.org --family any
//   build/examples/resolve --server 127.0.0.1:5353 --timeout-ms 500 --tries 2 a.test b.test
//
// c-ares owns its sockets; the loop only tells it when they are ready (Loop::watch, which never
// reads, closes or changes a flag of a watched descriptor) and when its next timeout is due
// (Loop::run_after):
//
//   ARES_OPT_SOCK_STATE_CB (fd, r, w)  first time -> Loop::watch; then -> Loop::set_interest;
//                                      r = w = 0 -> Loop::unwatch (c-ares closes it afterwards)
//   a watch's callback                 ares_process_fd(readable or hang-up ? fd : BAD,
//                                                      writable ? fd : BAD)
//   ares_timeout()                     -> one Loop::run_after timer, computed again after every
//                                      event and every timer (the timer calls
//                                      ares_process_fd(BAD, BAD): "only check the timeouts")
//
// One query per name (ares_getaddrinfo), all at once. The channel is made in main() before the
// loop sees it; from then on every c-ares call happens on the loop's thread, and the channel is
// destroyed there (finish()) before main() stops the client.
//
// Output: "<name> <address>" for every address, names in the order given. A name that fails is
// reported on stderr with c-ares's own text ("Domain name not found", "Timeout while contacting
// DNS servers"). Exit status: 0 when every name resolved, 1 otherwise, 2 for bad flags.
#include <CLI/CLI.hpp>
#include <ares.h>
#include <arpa/inet.h>
#include <gnet/gnet.hpp>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

struct Query {
  std::string name;
  bool done = false;
  int status = ARES_SUCCESS;
  std::vector<std::string> addresses;
};

std::string to_text(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  } else {
    return "?";
  }
  return buf;
}

// All of it lives on the loop's thread from start() to finish().
class Resolver {
 public:
  Resolver(gnet::Loop& loop, ares_channel channel, int family, const std::vector<std::string>& names,
           std::promise<void>& done)
      : loop_(loop), channel_(channel), family_(family), done_(done) {
    queries_.resize(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) queries_[i].name = names[i];
  }
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  const std::vector<Query>& queries() const { return queries_; }
  const std::string& fatal() const { return fatal_; }

  // c-ares's socket-state callback: installed with ARES_OPT_SOCK_STATE_CB before the channel
  // exists, so it finds the Resolver through a pointer the caller fills in.
  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
    if (auto* self = *static_cast<Resolver**>(data)) self->sock_state(fd, readable != 0, writable != 0);
  }

  // Loop thread.
  void start() {
    ares_addrinfo_hints hints{};
    hints.ai_family = family_;
    hints.ai_socktype = SOCK_STREAM;  // one node per address, not one per socket type
    for (Query& q : queries_) {
      // The callback may run before ares_getaddrinfo returns (a literal, /etc/hosts, a bad name).
      ares_getaddrinfo(channel_, q.name.c_str(), nullptr, &hints, &Resolver::on_result, &q);
    }
    after_ares();
  }

 private:
  void sock_state(ares_socket_t fd, bool readable, bool writable) {
    gnet::Ready interest = gnet::Ready::none;
    if (readable) interest = interest | gnet::Ready::readable;
    if (writable) interest = interest | gnet::Ready::writable;
    auto it = watches_.find(fd);
    if (interest == gnet::Ready::none) {  // c-ares is about to close fd
      if (it != watches_.end()) {
        loop_.unwatch(it->second);
        watches_.erase(it);
      }
      return;
    }
    if (it != watches_.end()) {
      if (auto ec = loop_.set_interest(it->second, interest); ec && fatal_.empty()) {
        fatal_ = "set_interest fd " + std::to_string(fd) + ": " + ec.message();
      }
      return;
    }
    auto id = loop_.watch(fd, interest, [this, fd](gnet::Ready events) { ready(fd, events); });
    if (!id) {
      if (fatal_.empty()) fatal_ = id.error().message();  // the queries would never hear back
      return;
    }
    watches_.emplace(fd, *id);
  }

  void ready(ares_socket_t fd, gnet::Ready events) {
    // A hang-up or socket error goes to c-ares as "readable": its read hears the error and it
    // retries the query (another server, TCP) or fails it with its own status.
    const bool in = gnet::has(events, gnet::Ready::readable | gnet::Ready::hangup);
    const bool out = gnet::has(events, gnet::Ready::writable);
    ares_process_fd(channel_, in ? fd : ARES_SOCKET_BAD, out ? fd : ARES_SOCKET_BAD);
    after_ares();
  }

  static void on_result(void* arg, int status, int, ares_addrinfo* result) {
    auto& q = *static_cast<Query*>(arg);
    q.done = true;
    q.status = status;
    if (status == ARES_SUCCESS && result != nullptr) {
      for (const ares_addrinfo_node* n = result->nodes; n != nullptr; n = n->ai_next) {
        q.addresses.push_back(to_text(n->ai_addr));
      }
    }
    if (result != nullptr) ares_freeaddrinfo(result);
  }

  // After every call into c-ares: the timer follows ares_timeout(), and once every query has
  // its answer (or the loop could not watch a socket) the channel goes.
  void after_ares() {
    if (channel_ == nullptr) return;
    std::size_t answered = 0;
    for (const Query& q : queries_) answered += q.done ? 1 : 0;
    if (answered == queries_.size() || !fatal_.empty()) {
      finish();
      return;
    }
    if (timer_ != 0) loop_.cancel(timer_);
    timer_ = 0;
    timeval storage{};
    if (timeval* tv = ares_timeout(channel_, nullptr, &storage)) {
      auto delay = std::chrono::seconds(tv->tv_sec) + std::chrono::microseconds(tv->tv_usec);
      timer_ = loop_.run_after(delay, [this] {
        timer_ = 0;
        ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts and retries
        after_ares();
      });
    }
  }

  // Everything c-ares owns goes on this thread, before main() stops the client.
  void finish() {
    if (timer_ != 0) loop_.cancel(timer_);
    timer_ = 0;
    // ares_destroy ends the queries still pending (ARES_EDESTRUCTION, after a failed watch) and
    // closes its sockets, saying r = w = 0 for each first (sock_state unwatches them).
    ares_destroy(channel_);
    channel_ = nullptr;
    for (auto& [fd, id] : watches_) loop_.unwatch(id);  // nothing, normally
    watches_.clear();
    done_.set_value();
  }

  gnet::Loop& loop_;
  ares_channel channel_;
  const int family_;
  std::promise<void>& done_;
  std::vector<Query> queries_;
  std::string fatal_;
  gnet::TimerId timer_ = 0;
  std::unordered_map<ares_socket_t, gnet::WatchId> watches_;  // c-ares's sockets, by descriptor
};

struct NoConnections final : gnet::EventHandler {};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"resolve host names with c-ares on a gnet loop"};
  std::vector<std::string> names;
  std::string server;
  std::string family = "any";
  int timeout_ms = 5000;
  int tries = 4;
  cli.add_option("names", names, "host names to resolve")->required();
  cli.add_option("--server", server, "DNS server(s) to ask instead of /etc/resolv.conf's: IP:PORT[,...] "
                                     "([IPv6]:PORT)");
  cli.add_option("--family", family, "address family")
      ->check(CLI::IsMember({"4", "6", "any"}))
      ->capture_default_str();
  cli.add_option("--timeout-ms", timeout_ms, "first try's timeout per server (c-ares doubles it per round)")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  cli.add_option("--tries", tries, "tries per server")->check(CLI::Range(1, 100))->capture_default_str();
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }

  if (int rc = ares_library_init(ARES_LIB_INIT_ALL); rc != ARES_SUCCESS) {
    std::fprintf(stderr, "resolve: ares_library_init: %s\n", ares_strerror(rc));
    return 1;
  }
  Resolver* resolver_ptr = nullptr;  // on_sock_state's data: set before any query opens a socket
  ares_options options{};
  options.sock_state_cb = &Resolver::on_sock_state;
  options.sock_state_cb_data = &resolver_ptr;
  options.timeout = timeout_ms;
  options.tries = tries;
  ares_channel channel = nullptr;
  if (int rc = ares_init_options(&channel, &options, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
      rc != ARES_SUCCESS) {
    std::fprintf(stderr, "resolve: ares_init_options: %s\n", ares_strerror(rc));
    ares_library_cleanup();
    return 1;
  }
  if (!server.empty()) {
    if (int rc = ares_set_servers_ports_csv(channel, server.c_str()); rc != ARES_SUCCESS) {
      std::fprintf(stderr, "resolve: --server %s: %s\n", server.c_str(), ares_strerror(rc));
      ares_destroy(channel);
      ares_library_cleanup();
      return 2;
    }
  }

  NoConnections handler;
  gnet::Client client(handler, {.num_event_loop = 1, .logger = gnet::stderr_logger(gnet::LogLevel::warn)});
  if (auto r = client.start(); !r) {
    std::fprintf(stderr, "resolve: %s\n", r.error().message().c_str());
    ares_destroy(channel);
    ares_library_cleanup();
    return 1;
  }
  const int af = family == "4" ? AF_INET : family == "6" ? AF_INET6 : AF_UNSPEC;
  std::promise<void> done;
  Resolver resolver(client.engine().loop(0), channel, af, names, done);
  resolver_ptr = &resolver;  // posted below: the loop's thread sees it
  if (auto ec = client.engine().loop(0).post([&resolver] { resolver.start(); })) {
    std::fprintf(stderr, "resolve: post: %s\n", ec.message().c_str());
    client.stop();
    ares_destroy(channel);
    ares_library_cleanup();
    return 1;
  }
  done.get_future().wait();  // finish() has destroyed the channel on the loop's thread
  client.stop();
  ares_library_cleanup();

  bool all_ok = resolver.fatal().empty();
  if (!all_ok) std::fprintf(stderr, "resolve: %s\n", resolver.fatal().c_str());
  for (const Query& q : resolver.queries()) {
    for (const std::string& a : q.addresses) std::printf("%s %s\n", q.name.c_str(), a.c_str());
    if (q.status != ARES_SUCCESS) {
      std::fprintf(stderr, "resolve: %s: %s\n", q.name.c_str(), ares_strerror(q.status));
      all_ok = false;
    }
  }
  return all_ok ? 0 : 1;
}
