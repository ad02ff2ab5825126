#include "engine/engine_core.hpp"
#include "engine/signal_stop.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <tuple>

#include "engine/upgrade.hpp"

namespace gnet::detail {

EngineCore::EngineCore(EventHandler& handler, const Options& options)
    : handler_(handler), options_(options), balancer_(options.lb, 1) {
  if (!options_.logger) options_.logger = stderr_logger(LogLevel::info);
  tls_ = std::make_unique<TlsContexts>(options_.tls);
  context_.reset(new LoopContext{handler_, options_, stopping_, [this] { request_stop(); },
                                 [this](const SocketAddress& remote) -> EventLoop& { return pick_loop(remote); },
                                 [this] { handoff_check(); }, tls_.get()});
}

EngineCore::~EngineCore() {
  while (stops_in_flight_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  loops_.clear();  // connections first: their fds close before the listeners'
  for (ListenerGroup& g : groups_) {
    for (ListenSocket& s : g.sockets) close_listener(s);
  }
  if (handover_channel_ >= 0) ::close(handover_channel_);  // never served: the sender keeps on
}

std::error_code EngineCore::stop_and_wait(std::chrono::milliseconds timeout) {
  // Waiting on a thread the engine itself needs to finish would never end.
  // Counted like stop(): run() cannot return and destroy *this until this part is done.
  stops_in_flight_.fetch_add(1, std::memory_order_acq_rel);
  bool own_thread = std::this_thread::get_id() == serve_thread_.load(std::memory_order_acquire);
  for (const auto& loop : loops_) own_thread = own_thread || loop->in_loop_thread();
  if (own_thread) {
    stops_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    return std::make_error_code(std::errc::resource_deadlock_would_occur);
  }
  std::shared_ptr<Finished> finished = finished_;  // ours from here on, whatever happens to *this
  request_stop();
  stops_in_flight_.fetch_sub(1, std::memory_order_acq_rel);  // *this may be gone after this line
  std::unique_lock lock(finished->mu);
  const bool done = timeout == std::chrono::milliseconds::max()
                        ? (finished->cv.wait(lock, [&] { return finished->done; }), true)
                        : finished->cv.wait_for(lock, timeout, [&] { return finished->done; });
  return done ? std::error_code{} : make_error_code(Errc::timed_out);
}

void EngineCore::log(LogLevel level, const std::string& message) const { options_.logger(level, message); }

void EngineCore::keep_relay(std::shared_ptr<Relay::Finished> relay) {
  std::lock_guard lock(relays_mu_);
  // Finished ones go as new ones come, so a long-lived client does not collect them.
  std::erase_if(relays_, [](const auto& r) { return r->wait_until(std::chrono::steady_clock::time_point{}); });
  relays_.push_back(std::move(relay));
}

void EngineCore::request_stop() noexcept {
  stops_in_flight_.fetch_add(1, std::memory_order_acq_rel);
  stopping_.store(true, std::memory_order_release);
  for (auto& loop : loops_) loop->signal();
  stops_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
}

Result<void> EngineCore::hand_over(std::string_view path, std::chrono::milliseconds timeout) {
  // Like stop(): the engine may stop by itself meanwhile (its last connection closed); run()
  // waits for this call before the loops go away.
  stops_in_flight_.fetch_add(1, std::memory_order_acq_rel);
  struct Leave {
    std::atomic<int>& n;
    ~Leave() { n.fetch_sub(1, std::memory_order_acq_rel); }
  } leave{stops_in_flight_};
  std::lock_guard lock(handover_mu_);
  if (handed_over_.load(std::memory_order_acquire)) {
    return Error(Errc::engine_stopped, "hand over: the listeners were handed over already");
  }
  if (is_stopping()) return Error(Errc::engine_stopped, "hand over: the engine is stopping");
  std::vector<HandOverSocket> sockets;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    for (const ListenSocket& s : groups_[gi].sockets) {
      sockets.push_back(HandOverSocket{s.fd, gi, groups_[gi].text, !s.unix_path.empty()});
    }
  }
  if (sockets.empty()) return Error(Errc::engine_stopped, "hand over: this engine has no listeners");
  const auto start = std::chrono::steady_clock::now();
  if (auto r = send_listeners(path, sockets, start + timeout); !r) return r.error();

  // The successor serves on them now. Its Unix socket files are its to remove.
  for (ListenerGroup& g : groups_) {
    for (ListenSocket& s : g.sockets) s.unix_path.clear();
  }
  handoff_deadline_ = std::chrono::steady_clock::now() + options_.shutdown_timeout;
  handed_over_.store(true, std::memory_order_release);
  log(LogLevel::info, "listeners handed over on " + std::string(path) + "; serving " +
                          std::to_string(count_connections()) + " open connection(s) for up to " +
                          std::to_string(options_.shutdown_timeout.count()) + " ms");
  for (auto& loop : loops_) {
    EventLoop* l = loop.get();
    (void)l->post_task([l] { l->begin_handoff(); }, true);
  }
  // Return once no loop accepts any more (a cancelled io_uring accept reports back within a
  // turn; bounded all the same, and a stop meanwhile ends the wait).
  const auto quiet_by = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    bool quiet = true;
    for (auto& loop : loops_) quiet = quiet && loop->handoff_quiet();
    if (quiet || is_stopping()) break;
    if (std::chrono::steady_clock::now() >= quiet_by) {
      log(LogLevel::warn, "hand over: a loop has not confirmed that it stopped accepting");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return {};
}

void EngineCore::handoff_check() {
  if (is_stopping()) return;
  if (std::chrono::steady_clock::now() >= handoff_deadline_) {
    log(LogLevel::info, "hand-over drain deadline: closing " + std::to_string(count_connections()) +
                            " connection(s) still open");
    request_stop();
    return;
  }
  for (auto& loop : loops_) {
    if (!loop->handoff_quiet()) return;  // an accept may still be on its way to some loop
  }
  if (count_connections() == 0) request_stop();
}

EventLoop& EngineCore::pick_loop(const SocketAddress& remote) {
  // Acceptor thread only, so one scratch vector serves every accept without allocating.
  load_scratch_.resize(loops_.size());
  for (std::size_t i = 0; i < loops_.size(); ++i) load_scratch_[i] = loops_[i]->load().load(std::memory_order_relaxed);
  int chosen = balancer_.choose(load_scratch_, remote);
  EventLoop& loop = *loops_[static_cast<std::size_t>(chosen)];
  loop.load().fetch_add(1, std::memory_order_relaxed);
  return loop;
}

Result<void> EngineCore::setup(const std::vector<std::string>& addresses, bool allow_none,
                               InheritedListeners* inherited) {
  if (addresses.empty() && !allow_none) return Error(Errc::bad_address, "no address to serve");
  std::vector<Address> parsed;
  for (const std::string& text : addresses) {
    auto addr = parse_address(text);
    if (!addr) return addr.error();
    if (addr->tls) {
      if (auto r = tls_->build_server(); !r) return r.error();  // certificates load here, or setup fails
    }
    parsed.push_back(addr.value());
  }

  int count = options_.num_event_loop > 0 ? options_.num_event_loop
              : options_.multicore        ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))
                                          : 1;
  for (int i = 0; i < count; ++i) {
    loops_.push_back(std::make_unique<EventLoop>(*context_, i));
    if (auto r = loops_.back()->init(); !r) return r.error();
  }
  balancer_ = LoadBalancer(options_.lb, count);

  std::vector<InheritedListener>* given = inherited != nullptr ? &InheritedAccess::listeners(*inherited) : nullptr;
  // Unix socket files a predecessor handed over with the duty to remove them: this engine takes
  // the duty on only once setup has succeeded (else the predecessor, still serving, keeps it).
  std::vector<std::tuple<std::size_t, std::size_t, std::string>> owned_paths;  // group, socket, path
  for (std::size_t gi = 0; gi < parsed.size(); ++gi) {
    ListenerGroup& group = groups_.emplace_back();
    group.text = addresses[gi];
    group.address = parsed[gi];
    // Inherited sockets for this address: by the name the sender served it under, else by what
    // they are bound to.
    std::vector<std::size_t> picked;
    if (given != nullptr) {
      for (std::size_t k = 0; k < given->size(); ++k) {
        const InheritedListener& l = (*given)[k];
        if (l.fd >= 0 && l.name == group.text && l.network == group.address.network) picked.push_back(k);
      }
      if (picked.empty()) {
        for (std::size_t k = 0; k < given->size(); ++k) {
          if ((*given)[k].fd >= 0 && inherited_matches((*given)[k], group.address)) picked.push_back(k);
        }
      }
    }
    if (!picked.empty()) {
      for (std::size_t k : picked) {
        InheritedListener& l = (*given)[k];
        int flags = ::fcntl(l.fd, F_GETFL);
        if (flags >= 0 && !(flags & O_NONBLOCK)) ::fcntl(l.fd, F_SETFL, flags | O_NONBLOCK);
        ::fcntl(l.fd, F_SETFD, FD_CLOEXEC);
        ListenSocket s;
        s.fd = l.fd;
        s.bound = l.address;
        l.fd = -1;  // the engine's now
        group.sockets.push_back(std::move(s));
        if (InheritedAccess::owns_path(*inherited)[k] && l.address.family() == AF_UNIX &&
            !l.address.to_string().empty() && l.address.to_string()[0] != '@') {
          owned_paths.emplace_back(gi, group.sockets.size() - 1, l.address.to_string());
        }
      }
    } else {
      // SO_REUSEPORT only means something for IP sockets; Unix listeners stay single.
      bool per_loop = options_.reuse_port && group.address.is_ip() && count > 1;
      int sockets = per_loop ? count : 1;
      Address bind_addr = group.address;
      for (int i = 0; i < sockets; ++i) {
        auto sock = open_listener(bind_addr, options_, options_.reuse_port && group.address.is_ip());
        if (!sock) return sock.error();
        if (i == 0 && bind_addr.is_ip() && bind_addr.port == 0) bind_addr.port = sock->bound.port();
        group.sockets.push_back(std::move(sock.value()));
      }
    }
    // One socket per loop (reuse_port, bound here or inherited): socket i on loop i, the kernel
    // spreads connections. Otherwise the sockets are shared out and accepts are balanced.
    const int sockets = static_cast<int>(group.sockets.size());
    const bool one_each = sockets == count;
    auto loop_of = [&](int i) -> EventLoop& { return *loops_[static_cast<std::size_t>(i % count)]; };
    if (group.address.network == Network::udp) {
      for (int i = 0; i < sockets; ++i) {
        auto r = loop_of(i).add_datagram_socket(group.sockets[static_cast<std::size_t>(i)].fd, static_cast<int>(gi));
        if (!r) return r.error();
      }
      continue;
    }
    for (int i = 0; i < sockets; ++i) {
      auto watcher = std::make_unique<Listener>();
      watcher->fd = group.sockets[static_cast<std::size_t>(i)].fd;
      watcher->index = static_cast<int>(gi);
      watcher->network = group.address.network;
      watcher->tls = group.address.tls;
      watcher->proxy_protocol = group.address.proxy_protocol;
      watcher->distribute = !one_each && count > 1;
      loop_of(i).add_listener(watcher.get());
      group.watchers.push_back(std::move(watcher));
    }
  }
  if (given != nullptr) {
    for (const InheritedListener& l : *given) {
      if (l.fd < 0) continue;
      static constexpr const char* kNames[] = {"tcp", "udp", "unix", "unixpacket", "pipe"};
      std::string served;
      for (const std::string& a : addresses) served += (served.empty() ? "" : ", ") + a;
      return Error(Errc::bad_listener, "inherited descriptor " + std::to_string(l.fd) + " (" +
                                           kNames[static_cast<int>(l.network)] + " " + l.address.to_string() +
                                           (l.name.empty() ? "" : ", \"" + l.name + "\"") +
                                           ") matches none of the addresses served (" + served + ")");
    }
  }
  for (auto& [g, s, path] : owned_paths) groups_[g].sockets[s].unix_path = path;
  return {};
}

Result<void> EngineCore::serve() {
  serve_thread_.store(std::this_thread::get_id(), std::memory_order_release);
  // However serve() returns (on_boot threw, or after on_shutdown), stop_and_wait() is released.
  struct ReleaseWaiters {
    Finished& f;
    ~ReleaseWaiters() {
      {
        std::lock_guard lock(f.mu);
        f.done = true;
      }
      f.cv.notify_all();
    }
  } release{*finished_};
  const SignalStop signal_stop(*this, options_.stop_signals);  // until serve() returns
  Action boot = Action::none;
  try {
    boot = handler_.on_boot(*this);
  } catch (const std::exception& e) {
    boot_failed_ = true;
    if (on_booted_) on_booted_();
    return Error(Errc::handler_exception, std::string("on_boot threw: ") + e.what());
  }
  if (boot == Action::shutdown) request_stop();
  if (on_booted_) on_booted_();
  // Inherited from a predecessor: it stops accepting once told that these loops take over.
  // (Sockets registered, loops about to run; what arrives meanwhile waits in the backlog.)
  if (handover_channel_ >= 0 && boot != Action::shutdown) {
    announce_serving(handover_channel_);
    handover_channel_ = -1;
  }

  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < loops_.size(); ++i) {
    threads.emplace_back([loop = loops_[i].get()] { loop->run(); });
  }
  loops_[0]->run();
  for (std::thread& t : threads) t.join();

  // Every connection is closed, relayed ones too: their relays finish passing on what they hold.
  std::vector<std::shared_ptr<Relay::Finished>> relays;
  {
    std::lock_guard lock(relays_mu_);
    relays.swap(relays_);
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.shutdown_timeout;
  for (auto& relay : relays) {
    if (!relay->wait_until(deadline)) {
      log(LogLevel::warn, "a relayed descriptor still had output to write at the shutdown deadline; left to its thread");
      break;
    }
  }

  try {
    handler_.on_shutdown(*this);
  } catch (const std::exception& e) {
    log(LogLevel::error, std::string("on_shutdown threw: ") + e.what());
  }
  return {};
}

}  // namespace gnet::detail

namespace gnet {

using detail::EngineCore;

static EngineCore& core(Engine* e) { return *static_cast<EngineCore*>(e); }
static const EngineCore& core(const Engine* e) { return *static_cast<const EngineCore*>(e); }

void Engine::stop() noexcept { core(this).request_stop(); }
std::error_code Engine::stop_and_wait(std::chrono::milliseconds timeout) { return core(this).stop_and_wait(timeout); }
Result<void> Engine::hand_over(std::string_view path, std::chrono::milliseconds timeout) {
  return core(this).hand_over(path, timeout);
}
bool Engine::handed_over() const noexcept { return core(this).handed_over_.load(std::memory_order_acquire); }
bool Engine::stopping() const noexcept { return core(this).is_stopping(); }

std::size_t Engine::count_connections() const noexcept {
  std::size_t total = 0;
  for (auto& loop : core(this).loops_) {
    total += static_cast<std::size_t>(std::max(0, loop->load().load(std::memory_order_relaxed)));
  }
  return total;
}

Result<int> Engine::dup_listener(std::size_t listener) const {
  const auto& groups = core(this).groups_;
  if (listener >= groups.size()) {
    return Error(std::make_error_code(std::errc::invalid_argument),
                 "dup_listener: no listener #" + std::to_string(listener));
  }
  int fd = ::fcntl(groups[listener].sockets.front().fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return system_error(errno, "dup listener " + groups[listener].address.to_string());
  return fd;
}

std::vector<SocketAddress> Engine::listen_addresses() const {
  std::vector<SocketAddress> out;
  for (const auto& g : core(this).groups_) out.push_back(g.sockets.front().bound);
  return out;
}

int Engine::num_loops() const noexcept { return core(this).loop_count(); }

IoBackend Engine::io_backend() const noexcept {
  EngineCore& c = const_cast<EngineCore&>(core(this));
  return std::string_view(c.loop_at(0).io_backend_name()) == "io_uring" ? IoBackend::io_uring : IoBackend::epoll;
}

Loop& Engine::loop(int index) { return core(this).loop_at(index); }

std::error_code Engine::post(int index, UniqueFunction<void()> fn) {
  EngineCore& c = core(this);
  if (index >= c.loop_count()) return std::make_error_code(std::errc::invalid_argument);
  if (index < 0) {
    index = 0;
    int best = c.loop_at(0).load().load();
    for (int i = 1; i < c.loop_count(); ++i) {
      int l = c.loop_at(i).load().load();
      if (l < best) best = l, index = i;
    }
  }
  if (!c.loop_at(index).post_task(std::move(fn), false)) return make_error_code(Errc::engine_stopped);
  return {};
}

std::error_code Engine::dial(std::string_view address, std::chrono::milliseconds timeout, Loop::DialDone on_done,
                             std::any context) {
  EngineCore& c = core(this);
  if (c.is_stopping()) return make_error_code(Errc::engine_stopped);
  detail::EventLoop* target = &c.loop_at(0);
  for (int i = 1; i < c.loop_count(); ++i) {
    if (c.loop_at(i).load().load() < target->load().load()) target = &c.loop_at(i);
  }
  // Urgent lane, as Client::dial: a dial is not ordered behind the loop's queued writes.
  bool posted = target->post_task([target, address = std::string(address), timeout, done = std::move(on_done),
                                 context = std::move(context)]() mutable {
    target->dial_from_loop(address, timeout, std::move(done), std::move(context));
  }, true);
  return posted ? std::error_code{} : make_error_code(Errc::engine_stopped);
}

Result<void> rotate(EventHandler& handler, const std::vector<std::string>& addresses, const Options& options) {
  EngineCore engine(handler, options);
  if (auto r = engine.setup(addresses); !r) return r.error();
  return engine.serve();
}

Result<void> run(EventHandler& handler, std::string_view address, const Options& options) {
  return rotate(handler, {std::string(address)}, options);
}

Result<void> rotate(EventHandler& handler, const std::vector<std::string>& addresses, const Options& options,
                    InheritedListeners inherited) {
  EngineCore engine(handler, options);
  if (auto r = engine.setup(addresses, false, &inherited); !r) return r.error();
  engine.set_handover_channel(InheritedAccess::take_channel(inherited));
  return engine.serve();
}

Result<void> run(EventHandler& handler, std::string_view address, const Options& options, InheritedListeners inherited) {
  return rotate(handler, {std::string(address)}, options, std::move(inherited));
}

}  // namespace gnet
