#include "io/uring_driver.hpp"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "buffer/outbound_queue.hpp"
#include "conn/connection.hpp"
#include "io/readiness_io.hpp"
#include "loop/event_loop.hpp"
#include "loop/fd_watch.hpp"
#include "poller/poller.hpp"

namespace gnet::detail {
namespace {

constexpr unsigned kSqEntries = 1024;
constexpr unsigned kCqEntries = 8192;  // completions can outrun submissions (multishot)
constexpr int kBufferGroup = 0;
constexpr std::uintptr_t kTagBits = 7;  // targets are at least 8-byte aligned
constexpr unsigned kCqeBatch = 256;
// Newer than liburing 2.3's headers (Linux 6.12): a provided buffer is consumed incrementally,
// several receives packed into one buffer, and IORING_CQE_F_BUF_MORE says the kernel will go on
// filling the buffer this completion came from.
constexpr std::uint16_t kBufRingIncremental = 2;  // io_uring_buf_reg.flags: IOU_PBUF_RING_INC
constexpr unsigned kCqeBufMore = 1u << 4;         // IORING_CQE_F_BUF_MORE
constexpr int kCqeRounds = 4;  // batches per turn before timers and tasks get their turn

std::string errno_text(int err) { return std::strerror(err); }

// A send may be submitted for conn now: output waits, none is in flight, the output was not
// dropped, and no send that met EAGAIN is still waiting for writability (poll_out).
bool send_can_start(const Connection& conn) {
  return conn.has_pending_output() && conn.io.sending == 0 && !conn.io.output_dropped && !conn.io.poll_out;
}

}  // namespace

struct UringDriver::SendSlot {
  iovec iov[OutboundQueue::kMaxIov];
  msghdr msg;
};

struct UringDriver::PollToken {
  enum class For : std::uint8_t { connect, watch, file };
  For kind;
  void* target;          // Connecting, FdWatch (nullptr once forgotten: freed at completion) or
                         // the FileRequest it owns
  bool armed = false;    // a poll naming this token is in flight
  bool cancelling = false;
  unsigned mask = 0;     // what the armed poll asks for
};

static std::uint64_t pack(const void* target, std::uintptr_t tag) noexcept {
  return reinterpret_cast<std::uintptr_t>(target) | tag;
}

UringDriver::UringDriver(EventLoop& loop) noexcept : loop_(loop) {}

// Sets up a ring the way every loop's is, and checks what the backend relies on. ready tells
// whether the ring exists (to be torn down) even when a later check failed.
static Error open_ring(io_uring& ring, bool& ready) {
  // Created disabled: the loop's own thread enables it (start()) and is then its only issuer,
  // which lets the kernel defer completion work to the moment that thread asks for events.
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED |
                 IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  params.cq_entries = kCqEntries;
  int rc = io_uring_queue_init_params(kSqEntries, &ring, &params);
  if (rc < 0) {
    int err = -rc;
    std::string why = err == EPERM    ? " (refused: sysctl kernel.io_uring_disabled or a seccomp policy)"
                      : err == ENOSYS ? " (this kernel has no io_uring, or a seccomp policy hides it)"
                      : err == EINVAL ? " (kernel too old: single-issuer rings with deferred task running need 6.1)"
                                      : "";
    return Error(std::error_code(err, std::system_category()), "io_uring_setup: " + errno_text(err) + why);
  }
  ready = true;
  if (!(params.features & IORING_FEAT_NODROP)) {
    return Error(std::make_error_code(std::errc::function_not_supported),
                 "io_uring: kernel may drop completions (no IORING_FEAT_NODROP)");
  }
  if (io_uring_probe* probe = io_uring_get_probe_ring(&ring)) {
    const std::pair<int, const char*> needed[] = {
        {IORING_OP_RECV, "recv"},   {IORING_OP_SEND, "send"},       {IORING_OP_SENDMSG, "sendmsg"},
        {IORING_OP_ACCEPT, "accept"}, {IORING_OP_POLL_ADD, "poll"}, {IORING_OP_ASYNC_CANCEL, "cancel"},
        {IORING_OP_READ, "read"},   {IORING_OP_WRITE, "write"}};
    for (auto [op, label] : needed) {
      if (!io_uring_opcode_supported(probe, op)) {
        io_uring_free_probe(probe);
        return Error(std::make_error_code(std::errc::function_not_supported),
                     std::string("io_uring: kernel lacks the ") + label + " opcode");
      }
    }
    io_uring_free_probe(probe);
  }
  return {};
}

// Whether the kernel consumes provided buffers incrementally (6.12+): registers a one-entry ring
// with the flag on a spare group and takes it away again.
static bool probe_incremental(io_uring& ring) {
  void* mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return false;
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(mem);
  reg.ring_entries = 1;
  reg.bgid = kBufferGroup + 1;
  reg.pad = kBufRingIncremental;
  bool ok = io_uring_register_buf_ring(&ring, &reg, 0) == 0;
  if (ok) io_uring_unregister_buf_ring(&ring, kBufferGroup + 1);
  ::munmap(mem, 4096);
  return ok;
}

Error UringDriver::probe() {
  io_uring ring{};
  bool ready = false;
  Error e = open_ring(ring, ready);
  if (ready) io_uring_queue_exit(&ring);
  return e;
}

Result<std::unique_ptr<IoDriver>> UringDriver::create(EventLoop& loop) {
  std::unique_ptr<UringDriver> driver(new UringDriver(loop));
  if (auto r = driver->init(); !r) return r.error();
  return std::unique_ptr<IoDriver>(std::move(driver));
}

Result<void> UringDriver::init() {
  const Options& options = loop_.context().options;
  buf_count_ = options.io_uring_buffer_count;
  buf_size_ = options.io_uring_buffer_size;
  if (buf_count_ > 32768 || (buf_count_ & (buf_count_ - 1)) != 0) {
    return Error(std::make_error_code(std::errc::invalid_argument),
                 "io_uring_buffer_count must be a power of two up to 32768, not " + std::to_string(buf_count_));
  }
  if (buf_size_ != 0 && (buf_size_ < 64 || buf_size_ > (1u << 30))) {
    return Error(std::make_error_code(std::errc::invalid_argument),
                 "io_uring_buffer_size must be between 64 bytes and 1 GiB, not " + std::to_string(buf_size_));
  }

  if (Error e = open_ring(ring_, ring_ready_)) return e;
  recv_limit_ = static_cast<std::uint32_t>(std::min<std::size_t>(loop_.read_buffer_cap(), 1u << 30));

  // Incremental consumption packs receives from many connections into one buffer, so a few
  // large buffers serve a turn in which every connection got a little: 16 × 64 KiB (1 MiB of
  // address space per loop). Without it every completion takes a whole buffer, so more,
  // smaller ones: 256 × 16 KiB. The ring hands buffers out in turn, so over time all of it is
  // touched: that is the loop's receive memory, whatever the number of connections.
  incremental_ = probe_incremental(ring_);
  if (buf_count_ == 0) buf_count_ = incremental_ ? 16 : 256;
  if (buf_size_ == 0) buf_size_ = incremental_ ? 64 * 1024 : 16 * 1024;
  buf_offset_.assign(buf_count_, 0);

  // The provided buffers: one anonymous mapping, so pages are committed only once the kernel
  // has written into them.
  std::size_t ring_bytes = sizeof(io_uring_buf) * buf_count_;
  void* ring_mem = ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring_mem == MAP_FAILED) return system_error(errno, "io_uring: mmap buffer ring");
  buf_ring_ = static_cast<io_uring_buf_ring*>(ring_mem);
  void* buffers = ::mmap(nullptr, buf_size_ * buf_count_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (buffers == MAP_FAILED) return system_error(errno, "io_uring: mmap receive buffers");
  buffers_ = static_cast<char*>(buffers);
  io_uring_buf_ring_init(buf_ring_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(ring_mem);
  reg.ring_entries = buf_count_;
  reg.bgid = kBufferGroup;
  reg.pad = incremental_ ? kBufRingIncremental : 0;  // the flags word in newer headers
  int rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (rc < 0) {
    return Error(std::error_code(-rc, std::system_category()),
                 "io_uring: register provided-buffer ring: " + errno_text(-rc) + " (needs kernel 5.19)");
  }
  const int mask = io_uring_buf_ring_mask(buf_count_);
  for (unsigned i = 0; i < buf_count_; ++i) {
    io_uring_buf_ring_add(buf_ring_, buffers_ + i * buf_size_, static_cast<unsigned>(buf_size_),
                          static_cast<unsigned short>(i), mask, static_cast<int>(i));
  }
  io_uring_buf_ring_advance(buf_ring_, static_cast<int>(buf_count_));
  return {};
}

UringDriver::~UringDriver() {
  // Exiting the ring cancels whatever is still in flight; the kernel never dereferences our
  // tags, so the connect tokens can go right after.
  if (ring_ready_) io_uring_queue_exit(&ring_);
  if (buffers_ != nullptr) ::munmap(buffers_, buf_size_ * buf_count_);
  if (buf_ring_ != nullptr) ::munmap(buf_ring_, sizeof(io_uring_buf) * buf_count_);
  for (PollToken* token : tokens_) {
    if (token->kind == PollToken::For::file) delete static_cast<FileRequest*>(token->target);  // unanswered
    delete token;
  }
}

void UringDriver::start() {
  // liburing 2.3 declares io_uring_enable_rings but does not export it: the register call
  // itself is one line.
  if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0) {
    loop_.context().log(LogLevel::error, "io_uring: enable ring: " + errno_text(errno));
  }
  io_uring_register_ring_fd(&ring_);  // saves a descriptor lookup per enter; optional
  started_ = true;
  std::vector<Listener*> waiting;
  waiting.swap(arm_at_start_);
  for (Listener* listener : waiting) arm_accept(*listener);
}

void UringDriver::finish() {
  // A registered ring descriptor lives in the registering thread's own table: left there, it
  // would keep the ring alive after the engine is gone for as long as that thread runs (loop 0
  // runs on the caller's thread, which may go on to start another engine).
  io_uring_unregister_ring_fd(&ring_);
  started_ = false;
}

io_uring_sqe* UringDriver::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (s == nullptr && started_) {
    io_uring_submit(&ring_);  // the submission queue is full: hand it over and go on
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

void UringDriver::cancel(const void* target, std::uintptr_t tag) {
  io_uring_sqe* s = sqe();
  if (s == nullptr) return;
  io_uring_prep_cancel64(s, pack(target, tag), 0);
  io_uring_sqe_set_data64(s, kIgnore);
  s->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

bool UringDriver::busy(const Connection& conn) const noexcept { return conn.io.ops != 0; }

// ---- the turn ----

void UringDriver::wait_and_dispatch(int timeout_ms) {
  submit_sends();
  if (timeout_ms == 0) {
    io_uring_submit_and_get_events(&ring_);
  } else if (timeout_ms < 0) {
    io_uring_submit_and_wait(&ring_, 1);
  } else {
    __kernel_timespec ts{};
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000;
    io_uring_cqe* first = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr);  // -ETIME: a timer is due
  }
  loop_.turn_begins();
  io_uring_cqe* cqes[kCqeBatch];
  for (int round = 0; round < kCqeRounds; ++round) {
    unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kCqeBatch);
    for (unsigned i = 0; i < n; ++i) complete(*cqes[i]);
    io_uring_cq_advance(&ring_, n);
    if (n < kCqeBatch) break;
  }
}

void UringDriver::complete(const io_uring_cqe& cqe) {
  const auto tag = static_cast<std::uintptr_t>(cqe.user_data & kTagBits);
  void* target = reinterpret_cast<void*>(static_cast<std::uintptr_t>(cqe.user_data & ~std::uint64_t{kTagBits}));
  switch (tag) {
    case kIgnore:
      return;
    case kRecv:
      on_recv(*static_cast<Connection*>(target), cqe.res, cqe.flags);
      return;
    case kSend:
      on_send(*static_cast<Connection*>(target), cqe.res);
      return;
    case kPollIn:
    case kPollOut:
      on_poll(*static_cast<Connection*>(target), tag, cqe.res);
      return;
    case kAccept:
      on_accept(*static_cast<Listener*>(target), cqe.res, cqe.flags);
      return;
    case kToken:
      on_token(static_cast<PollToken*>(target), cqe.res);
      return;
    case kWake:
      loop_.on_wakeup();
      arm_wakeup();
      return;
    default:
      return;
  }
}

// ---- wake-up ----

std::error_code UringDriver::watch_wakeup(int fd) {
  wake_fd_ = fd;
  arm_wakeup();
  return {};
}

void UringDriver::arm_wakeup() {
  io_uring_sqe* s = sqe();
  if (s == nullptr) return;
  io_uring_prep_read(s, wake_fd_, &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data64(s, pack(nullptr, kWake));
}

// ---- listeners ----

std::error_code UringDriver::watch_listener(Listener& listener) {
  arm_accept(listener);
  return {};
}

void UringDriver::arm_accept(Listener& listener) {
  if (listener.accept_armed) return;
  io_uring_sqe* s = sqe();
  if (s == nullptr) {
    // Only before start(): the ring is not enabled, so a full submission queue cannot be
    // flushed yet (more listeners than kSqEntries on one loop). Armed in start() instead of
    // never.
    if (!started_) arm_at_start_.push_back(&listener);
    return;
  }
  io_uring_prep_multishot_accept(s, listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, pack(&listener, kAccept));
  listener.accept_armed = true;
}

void UringDriver::set_accepting(Listener& listener, bool on) {
  if (on) {
    arm_accept(listener);
  } else if (std::erase(arm_at_start_, &listener) > 0) {
    // not armed yet: nothing to cancel
  } else if (listener.accept_armed) {
    cancel(&listener, kAccept);
  }
}

void UringDriver::forget_listener(Listener& listener) {
  std::erase(arm_at_start_, &listener);
  if (listener.accept_armed) cancel(&listener, kAccept);
}

void UringDriver::on_accept(Listener& listener, int res, unsigned flags) {
  if (!(flags & IORING_CQE_F_MORE)) listener.accept_armed = false;
  if (res >= 0) {
    loop_.acceptor().accepted(listener, res, SocketAddress{});
  } else if (res != -ECANCELED) {
    loop_.acceptor().accept_failed(listener, -res);  // out of descriptors: pauses (no re-arm)
  }
  if (!listener.accept_armed && listener.retired) {
    loop_.acceptor().drain_retired(listener);  // handed over: see Acceptor::drain_retired
  } else if (!listener.accept_armed && !listener.paused && !loop_.draining() && res != -ECANCELED) {
    arm_accept(listener);
  }
}

// ---- dials ----

std::error_code UringDriver::watch_connect(Connecting& pending) {
  io_uring_sqe* s = sqe();
  if (s == nullptr) return std::make_error_code(std::errc::resource_unavailable_try_again);
  auto* token = new PollToken{PollToken::For::connect, &pending};
  tokens_.push_back(token);
  pending.driver_token = token;
  io_uring_prep_poll_add(s, pending.fd, POLLOUT);
  io_uring_sqe_set_data64(s, pack(token, kToken));
  token->armed = true;
  token->mask = POLLOUT;
  return {};
}

void UringDriver::forget_connect(Connecting& pending) {
  auto* token = static_cast<PollToken*>(pending.driver_token);
  if (token == nullptr) return;
  token->target = nullptr;  // freed when its completion (cancelled) arrives
  pending.driver_token = nullptr;
  cancel(token, kToken);
}

void UringDriver::drop_token(PollToken* token) {
  tokens_.erase(std::find(tokens_.begin(), tokens_.end(), token));
  delete token;
}

void UringDriver::on_token(PollToken* token, int res) {
  token->armed = false;
  token->cancelling = false;
  if (token->target == nullptr) {  // its dial or watch is gone: this was the last word
    drop_token(token);
    return;
  }
  if (token->kind == PollToken::For::file) {
    on_file(token, res);
    return;
  }
  if (token->kind == PollToken::For::connect) {
    auto* pending = static_cast<Connecting*>(token->target);
    drop_token(token);
    pending->driver_token = nullptr;
    loop_.dialer().connect_ready(*pending);
    return;
  }
  auto* watch = static_cast<FdWatch*>(token->target);
  if (res != -ECANCELED) {  // a cancel only means the interest changed: re-armed below
    Ready ready = Ready::none;
    if (res < 0 || (res & (POLLHUP | POLLERR))) ready = ready | Ready::hangup;
    if (res > 0 && (res & (POLLIN | POLLPRI))) ready = ready | Ready::readable;
    if (res > 0 && (res & POLLOUT)) ready = ready | Ready::writable;
    loop_.watches().ready(*watch, ready);  // may unwatch (the token is then freed) or re-aim
  }
  // The watch object outlives this turn even when unwatched; the token may not.
  if (!watch->dead && watch->driver_token != nullptr) {
    auto* live = static_cast<PollToken*>(watch->driver_token);
    if (!live->armed && watch->interest != Ready::none) arm_watch(*live, *watch);
  }
}

// ---- files ----

void UringDriver::submit_file(std::unique_ptr<FileRequest> request) {
  auto* token = new PollToken{PollToken::For::file, request.release()};
  tokens_.push_back(token);
  arm_file(*token, *static_cast<FileRequest*>(token->target));
}

void UringDriver::arm_file(PollToken& token, FileRequest& r) {
  io_uring_sqe* s = sqe();
  if (s == nullptr) return;  // only before start(): File submits from the running loop
  // One request moves at most 1 GiB (the length field is 32 bits); the rest continues.
  const auto len = static_cast<unsigned>(std::min<std::size_t>(r.length - r.done, 1u << 30));
  if (r.write) {
    io_uring_prep_write(s, r.fd, r.data + r.done, len, r.offset + r.done);
  } else {
    io_uring_prep_read(s, r.fd, r.data + r.done, len, r.offset + r.done);
  }
  io_uring_sqe_set_data64(s, pack(&token, kToken));
  token.armed = true;
}

void UringDriver::on_file(PollToken* token, int res) {
  auto* r = static_cast<FileRequest*>(token->target);
  int error = 0;
  if (res > 0) {
    r->done += static_cast<std::size_t>(res);
    if (r->done < r->length) {
      arm_file(*token, *r);  // short: continue where it stopped
      return;
    }
  } else if (res == -EINTR || res == -EAGAIN) {
    arm_file(*token, *r);
    return;
  } else if (res == 0) {
    if (r->write) error = EIO;  // a write that moves nothing would never finish
  } else {
    error = -res;
  }
  std::unique_ptr<FileRequest> owned(r);
  drop_token(token);
  owned->finish(error, owned->done);
}

// ---- foreign descriptors ----

static unsigned poll_mask(Ready interest) noexcept {
  return (has(interest, Ready::readable) ? POLLIN : 0u) | (has(interest, Ready::writable) ? POLLOUT : 0u);
}

std::error_code UringDriver::watch_fd(FdWatch& watch) {
  auto* token = new PollToken{PollToken::For::watch, &watch};
  tokens_.push_back(token);
  watch.driver_token = token;
  if (watch.interest != Ready::none) arm_watch(*token, watch);
  return {};
}

void UringDriver::arm_watch(PollToken& token, FdWatch& watch) {
  io_uring_sqe* s = sqe();
  if (s == nullptr) return;
  token.mask = poll_mask(watch.interest);
  io_uring_prep_poll_add(s, watch.fd, token.mask);
  io_uring_sqe_set_data64(s, pack(&token, kToken));
  token.armed = true;
}

std::error_code UringDriver::update_fd(FdWatch& watch) {
  auto* token = static_cast<PollToken*>(watch.driver_token);
  if (token == nullptr) return {};
  if (token->armed) {
    // A poll asking for something else is in flight: cancel it; its completion re-arms with
    // the interest as it then is (or not at all for Ready::none).
    if (token->mask != poll_mask(watch.interest) && !token->cancelling) {
      cancel(token, kToken);
      token->cancelling = true;
    }
  } else if (watch.interest != Ready::none) {
    arm_watch(*token, watch);
  }
  return {};
}

void UringDriver::forget_fd(FdWatch& watch) {
  auto* token = static_cast<PollToken*>(watch.driver_token);
  if (token == nullptr) return;
  watch.driver_token = nullptr;
  if (token->armed) {
    token->target = nullptr;  // freed when the cancelled poll completes
    if (!token->cancelling) cancel(token, kToken);
    token->cancelling = true;
  } else {
    drop_token(token);
  }
}

// ---- connections ----

std::error_code UringDriver::open(Connection& conn) {
  if (conn.polled()) {
    arm_poll(conn, kPollIn);
  } else {
    arm_recv(conn);
  }
  return {};
}

void UringDriver::forget(Connection& conn) {
  conn.io.detached = true;
  if (conn.io.send_queued) {
    send_list_.erase(std::find(send_list_.begin(), send_list_.end(), &conn));
    conn.io.send_queued = false;
  }
  if (conn.io.recv_armed && !conn.io.recv_cancelled) {
    cancel(&conn, kRecv);
    conn.io.recv_cancelled = true;
  }
  if (conn.io.poll_in) cancel(&conn, kPollIn);
  if (conn.io.poll_out) cancel(&conn, kPollOut);
  if (conn.io.sending != 0) cancel(&conn, kSend);
}

void UringDriver::arm_recv(Connection& conn) {
  if (conn.io.recv_armed || conn.io.detached) return;
  io_uring_sqe* s = sqe();
  if (s == nullptr) return;
  // Each receive takes at most read_buffer_cap bytes (len), and the multishot ends after
  // read_buffer_cap in all (sqe->optlen, which liburing 2.3 names file_index; both Linux 6.16+)
  // to be re-armed for the next turn: like one read per readiness with epoll, a busy sender
  // gets at most that much per turn, which keeps loops fair and bounds what a connection
  // paused mid-turn has to keep. Older kernels refuse either with EINVAL (see on_recv).
  io_uring_prep_recv_multishot(s, conn.fd(), nullptr, recv_limit_, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = kBufferGroup;
  if (recv_limit_ != 0) s->file_index = recv_limit_;
  io_uring_sqe_set_data64(s, pack(&conn, kRecv));
  conn.io.recv_armed = true;
  conn.io.recv_cancelled = false;
  ++conn.io.ops;
}

void UringDriver::arm_poll(Connection& conn, std::uintptr_t tag) {
  bool& armed = tag == kPollIn ? conn.io.poll_in : conn.io.poll_out;
  if (armed || conn.io.detached) return;
  io_uring_sqe* s = sqe();
  if (s == nullptr) return;
  io_uring_prep_poll_add(s, conn.fd(), tag == kPollIn ? POLLIN : POLLOUT);
  io_uring_sqe_set_data64(s, pack(&conn, tag));
  armed = true;
  ++conn.io.ops;
}

void UringDriver::interest_changed(Connection& conn) {
  if (conn.closed() || conn.io.detached) return;
  if (conn.polled()) {
    // Readiness through one-shot polls, re-armed while wanted: level-triggered behaviour.
    if (conn.reading()) arm_poll(conn, kPollIn);
    if (conn.has_pending_output()) arm_poll(conn, kPollOut);
    return;
  }
  if (conn.reading()) {
    arm_recv(conn);  // (if a cancelled one is still outstanding, its last completion re-arms)
  } else if (conn.io.recv_armed && !conn.io.recv_cancelled) {
    // Paused: stop the multishot receive. What completes before the cancellation lands is kept
    // unconsumed (Connection::keep_input), so no byte is lost or reordered.
    cancel(&conn, kRecv);
    conn.io.recv_cancelled = true;
  }
  if (!conn.io.send_queued && send_can_start(conn)) {
    send_list_.push_back(&conn);
    conn.io.send_queued = true;
  }
}

IoResult UringDriver::send_now(Connection&, std::string_view) { return {}; }
IoResult UringDriver::sendv_now(Connection&, std::span<const std::string_view>) { return {}; }

void UringDriver::drop_output(Connection& conn) {
  conn.io.output_dropped = true;
  if (conn.io.sending != 0) cancel(&conn, kSend);
}

void UringDriver::submit_sends() {
  for (Connection* conn : send_list_) {
    conn->io.send_queued = false;
    if (!conn->closed() && send_can_start(*conn)) {
      submit_send(*conn);
    }
  }
  send_list_.clear();
}

// One send in flight per connection, from the front of its queue: the bytes stay in the queue
// (owned) until the completion says how many went, so order and ownership both hold.
void UringDriver::submit_send(Connection& conn) {
  io_uring_sqe* s = sqe();
  if (s == nullptr) return;
  SendSlot* slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    all_slots_.push_back(std::make_unique<SendSlot>());
    slot = all_slots_.back().get();
  }
  int count = conn.outbound().gather(slot->iov, OutboundQueue::kMaxIov);
  std::size_t len = 0;
  for (int i = 0; i < count; ++i) len += slot->iov[i].iov_len;
  if (count == 1) {
    io_uring_prep_send(s, conn.fd(), slot->iov[0].iov_base, slot->iov[0].iov_len, MSG_NOSIGNAL);
    free_slots_.push_back(slot);
  } else {
    slot->msg = msghdr{};
    slot->msg.msg_iov = slot->iov;
    slot->msg.msg_iovlen = static_cast<std::size_t>(count);
    io_uring_prep_sendmsg(s, conn.fd(), &slot->msg, MSG_NOSIGNAL);
    conn.io.send_slot = slot;
  }
  io_uring_sqe_set_data64(s, pack(&conn, kSend));
  conn.io.sending = static_cast<std::uint32_t>(len);
  ++conn.io.ops;
}

void UringDriver::on_send(Connection& conn, int res) {
  --conn.io.ops;
  conn.io.sending = 0;
  if (conn.io.send_slot != nullptr) {
    free_slots_.push_back(static_cast<SendSlot*>(conn.io.send_slot));
    conn.io.send_slot = nullptr;
  }
  if (conn.closed()) return;
  if (conn.io.output_dropped) {
    conn.on_sent_dropped(res > 0 ? static_cast<std::size_t>(res) : 0);  // aborted: the rest no longer matters
    conn.after_flush();
  } else if (res >= 0) {
    conn.on_sent(static_cast<std::size_t>(res));
    conn.after_flush();  // watermarks, and the next send if more is queued
  } else if (res == -EAGAIN) {
    // The kernel may give up on a send it could not place and hand back EAGAIN instead of
    // waiting (seen on Unix stream sockets whose peer reads nothing for a while): nothing
    // went, nothing is lost. Wait for writability, as a readiness loop does; the send is
    // queued again when the poll completes (on_poll).
    arm_poll(conn, kPollOut);
  } else {
    conn.on_io_error({-res, std::system_category()});
  }
  conn.settle();
}

void UringDriver::on_recv(Connection& conn, int res, unsigned flags) {
  if (!(flags & IORING_CQE_F_MORE)) {
    conn.io.recv_armed = false;
    conn.io.recv_cancelled = false;
    --conn.io.ops;
  }
  if (flags & IORING_CQE_F_BUFFER) {
    const unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    // Incremental buffers: this completion's bytes follow those of the earlier completions
    // from the same buffer (the kernel hands out its parts in order).
    const std::size_t offset = buf_offset_[bid];
    if (res > 0 && !conn.closed()) {
      std::string_view data(buffers_ + static_cast<std::size_t>(bid) * buf_size_ + offset,
                            static_cast<std::size_t>(res));
      if (conn.reading()) {
        conn.on_input(data);
      } else {
        conn.keep_input(data);
      }
    }
    if (incremental_ && (flags & kCqeBufMore)) {
      buf_offset_[bid] = static_cast<std::uint32_t>(offset + static_cast<std::size_t>(std::max(res, 0)));
    } else {
      return_buffer(bid);  // the kernel is done with it, and so are we
    }
  } else if (res == 0 && !conn.closed()) {
    conn.on_end_of_input();
  } else if (res == -EINVAL && recv_limit_ != 0 && !conn.closed()) {
    // An older kernel refuses the per-arm limit: go on without it (the connection then keeps
    // whatever a turn brings in after a pause, still within max_inbound_buffered).
    recv_limit_ = 0;
    loop_.context().log(LogLevel::info, "io_uring: kernel has no multishot receive limit; receiving without it");
  } else if (res < 0 && res != -ECANCELED && res != -ENOBUFS && !conn.closed()) {
    conn.on_io_error({-res, std::system_category()});
  }
  // Out of buffers (-ENOBUFS) ends the multishot receive with the bytes still in the socket;
  // re-arming here takes them once this batch has returned its buffers.
  if (conn.closed()) return;
  if (!conn.io.recv_armed && conn.reading()) arm_recv(conn);
  conn.settle();
}

void UringDriver::return_buffer(unsigned bid) {
  buf_offset_[bid] = 0;
  io_uring_buf_ring_add(buf_ring_, buffers_ + static_cast<std::size_t>(bid) * buf_size_,
                        static_cast<unsigned>(buf_size_), static_cast<unsigned short>(bid),
                        io_uring_buf_ring_mask(buf_count_), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
}

void UringDriver::on_poll(Connection& conn, std::uintptr_t tag, int res) {
  (tag == kPollIn ? conn.io.poll_in : conn.io.poll_out) = false;
  --conn.io.ops;
  if (conn.closed() || conn.io.detached || res == -ECANCELED) return;
  if (!conn.polled()) {
    // A stream whose send came back EAGAIN: writable again (or failed, which the next send
    // reports). Its bytes go on through io_uring sends only: a read or write of our own here
    // could overtake a receive or send still in flight.
    interest_changed(conn);
    return;
  }
  std::uint32_t events = 0;
  if (res < 0) {
    events = kHangup;  // the next socket call reports the error
  } else {
    if (res & (POLLIN | POLLPRI)) events |= kReadable;
    if (res & POLLOUT) events |= kWritable;
    if (res & (POLLHUP | POLLERR)) events |= kHangup;
  }
  readiness::on_event(conn, events, false);
  if (!conn.closed()) interest_changed(conn);
}

}  // namespace gnet::detail
