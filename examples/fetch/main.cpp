// fetch — downloads URLs with libcurl's multi interface, driven by one gnet loop.
//
//   build/examples/fetch https://example.org/ http://127.0.0.1:8081/json
//   build/examples/fetch --parallel 10 --output-dir /tmp/out URL...
//
// libcurl owns its sockets; the loop only tells it when they are ready (Loop::watch, which never
// reads, closes or changes a flag of a watched descriptor) and when its timeout is due
// (Loop::run_after):
//
//   CURLMOPT_SOCKETFUNCTION  CURL_POLL_IN/OUT/INOUT -> Loop::watch (first time) or set_interest
//                            CURL_POLL_REMOVE       -> Loop::unwatch (curl closes it afterwards)
//   CURLMOPT_TIMERFUNCTION   timeout_ms >= 0 -> Loop::run_after (0: at once), -1 -> cancel
//   a watch's callback       curl_multi_socket_action(fd, CURL_CSELECT_IN/OUT/ERR), then
//                            curl_multi_info_read for the transfers that finished
//   the timer                curl_multi_socket_action(CURL_SOCKET_TIMEOUT), likewise
//
// Every curl call happens on the loop's thread: main() only starts the client, posts start()
// there and waits until finish() (also on the loop) has cleaned up the multi handle.
//
// Output: one line per URL, in the order given: "<index> <HTTP status> <bytes> <sha256>", or
// "<index> <HTTP status> <bytes> <error text>" when the transfer failed. Failures are also
// reported on stderr (curl's own error text, e.g. "Couldn't connect to server", or "HTTP 404 Not
// Found"). With --output-dir DIR each body is written to DIR/<index>.
// Exit status: 0 when every transfer succeeded with a 2xx status, 1 otherwise, 2 for bad flags.
#include <CLI/CLI.hpp>
#include <curl/curl.h>
#include <gnet/gnet.hpp>
#include <openssl/evp.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

struct Config {
  std::vector<std::string> urls;
  int parallel = 8;
  long timeout_ms = 0;     // 0: no limit
  std::string output_dir;  // empty: bodies are only counted and hashed
};

struct Transfer {
  std::size_t index = 0;
  std::string url;
  CURL* easy = nullptr;
  std::FILE* out = nullptr;
  EVP_MD_CTX* sha = nullptr;
  std::uint64_t bytes = 0;
  long status = 0;
  std::string reason;  // the reason phrase of the last status line ("Not Found")
  std::string error;   // empty on success (curl's text, a write error, an HTTP status)
  std::string digest;  // hex SHA-256 of the body
  char curl_detail[CURL_ERROR_SIZE] = {};

  bool ok() const { return error.empty(); }
};

std::string hex(const unsigned char* p, unsigned n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (unsigned i = 0; i < n; ++i) {
    s.push_back(kDigits[p[i] >> 4]);
    s.push_back(kDigits[p[i] & 15]);
  }
  return s;
}

// All of it lives on the loop's thread from start() to finish().
class Fetcher {
 public:
  Fetcher(gnet::Loop& loop, const Config& config, std::promise<void>& done)
      : loop_(loop), config_(config), done_(done) {
    transfers_.resize(config.urls.size());
    for (std::size_t i = 0; i < transfers_.size(); ++i) {
      transfers_[i].index = i;
      transfers_[i].url = config.urls[i];
    }
  }
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  const std::vector<Transfer>& transfers() const { return transfers_; }
  const std::string& fatal() const { return fatal_; }

  // Loop thread.
  void start() {
    multi_ = curl_multi_init();
    if (multi_ == nullptr) {
      fatal_ = "curl_multi_init failed";
      abort_all();
      finish();
      return;
    }
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Fetcher::on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Fetcher::on_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    while (active_ < config_.parallel && next_ < transfers_.size()) add(transfers_[next_++]);
    check_finished();
  }

 private:
  // ---- libcurl's callbacks (they run inside curl_multi_* calls, on the loop's thread) ----

  static int on_socket(CURL*, curl_socket_t fd, int what, void* userp, void*) {
    return static_cast<Fetcher*>(userp)->socket(fd, what) ? 0 : -1;
  }

  bool socket(curl_socket_t fd, int what) {
    auto it = watches_.find(fd);
    if (what == CURL_POLL_REMOVE) {
      if (it != watches_.end()) {
        loop_.unwatch(it->second.id);  // before curl closes fd: its number may come back at once
        watches_.erase(it);
      }
      return true;
    }
    gnet::Ready interest = gnet::Ready::none;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) interest = interest | gnet::Ready::readable;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) interest = interest | gnet::Ready::writable;
    if (it != watches_.end()) {
      if (auto ec = loop_.set_interest(it->second.id, interest)) {
        if (fatal_.empty()) fatal_ = "set_interest fd " + std::to_string(fd) + ": " + ec.message();
        return false;
      }
      it->second.interest = interest;
      return true;
    }
    auto id = loop_.watch(fd, interest, [this, fd](gnet::Ready events) { ready(fd, events); });
    if (!id) {
      if (fatal_.empty()) fatal_ = id.error().message();
      return false;  // curl aborts its transfers (CURLM_ABORTED_BY_CALLBACK)
    }
    watches_.emplace(fd, Watch{*id, interest});
    return true;
  }

  static int on_timer(CURLM*, long timeout_ms, void* userp) {
    static_cast<Fetcher*>(userp)->timer(timeout_ms);
    return 0;
  }

  void timer(long timeout_ms) {
    if (timer_ != 0) loop_.cancel(timer_);
    timer_ = 0;
    if (timeout_ms < 0) return;
    // 0 means "as soon as possible": the loop checks its timers after the I/O of every turn.
    timer_ = loop_.run_after(std::chrono::milliseconds(timeout_ms), [this] {
      timer_ = 0;
      action(CURL_SOCKET_TIMEOUT, 0);
    });
  }

  // ---- the loop's callbacks ----

  void ready(curl_socket_t fd, gnet::Ready events) {
    int bits = 0;
    if (gnet::has(events, gnet::Ready::readable)) bits |= CURL_CSELECT_IN;
    if (gnet::has(events, gnet::Ready::writable)) bits |= CURL_CSELECT_OUT;
    if (gnet::has(events, gnet::Ready::hangup)) {
      // Hang-up or error: also say "ready" for what curl asked, so that it does the read or
      // write itself and names the real error ("Connection reset by peer", "Couldn't connect")
      // instead of a bare "select/poll returned error".
      bits |= CURL_CSELECT_ERR;
      if (auto it = watches_.find(fd); it != watches_.end()) {
        if (gnet::has(it->second.interest, gnet::Ready::readable)) bits |= CURL_CSELECT_IN;
        if (gnet::has(it->second.interest, gnet::Ready::writable)) bits |= CURL_CSELECT_OUT;
      }
    }
    action(fd, bits);
  }

  void action(curl_socket_t fd, int bits) {
    if (multi_ == nullptr) return;
    int running = 0;
    CURLMcode rc = curl_multi_socket_action(multi_, fd, bits, &running);
    if (rc != CURLM_OK && fatal_.empty()) fatal_ = std::string("curl_multi_socket_action: ") + curl_multi_strerror(rc);
    drain();
    if (rc != CURLM_OK) abort_all();
    check_finished();
  }

  // ---- transfers ----

  void add(Transfer& t) {
    ++active_;
    auto fail = [&](std::string why) {
      t.error = std::move(why);
      release(t);
      --active_;
      ++finished_;
    };
    t.sha = EVP_MD_CTX_new();
    if (t.sha == nullptr || EVP_DigestInit_ex(t.sha, EVP_sha256(), nullptr) != 1) return fail("EVP_DigestInit_ex failed");
    if (!config_.output_dir.empty()) {
      const std::string path = config_.output_dir + "/" + std::to_string(t.index);
      t.out = std::fopen(path.c_str(), "wb");
      if (t.out == nullptr) return fail(path + ": " + std::strerror(errno));
    }
    t.easy = curl_easy_init();
    if (t.easy == nullptr) return fail("curl_easy_init failed");
    curl_easy_setopt(t.easy, CURLOPT_URL, t.url.c_str());
    curl_easy_setopt(t.easy, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(t.easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(t.easy, CURLOPT_NOSIGNAL, 1L);  // threads here: no SIGALRM for DNS timeouts
    curl_easy_setopt(t.easy, CURLOPT_USERAGENT, "gnet-fetch");
    curl_easy_setopt(t.easy, CURLOPT_ERRORBUFFER, t.curl_detail);
    curl_easy_setopt(t.easy, CURLOPT_WRITEFUNCTION, &Fetcher::on_body);
    curl_easy_setopt(t.easy, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(t.easy, CURLOPT_HEADERFUNCTION, &Fetcher::on_header);
    curl_easy_setopt(t.easy, CURLOPT_HEADERDATA, &t);
    if (config_.timeout_ms > 0) curl_easy_setopt(t.easy, CURLOPT_TIMEOUT_MS, config_.timeout_ms);
    if (CURLMcode rc = curl_multi_add_handle(multi_, t.easy); rc != CURLM_OK) {
      return fail(std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc));
    }
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* userp) {
    auto& t = *static_cast<Transfer*>(userp);
    const std::size_t len = size * n;
    t.bytes += len;
    EVP_DigestUpdate(t.sha, data, len);
    if (t.out != nullptr && std::fwrite(data, 1, len, t.out) != len) return 0;  // CURLE_WRITE_ERROR
    return len;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* userp) {
    auto& t = *static_cast<Transfer*>(userp);
    std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) {  // "HTTP/1.1 404 Not Found\r\n"; HTTP/2 has no phrase
      t.reason.clear();
      std::size_t sp = line.find(' ');
      if (sp != std::string_view::npos) sp = line.find(' ', sp + 1);
      if (sp != std::string_view::npos) {
        std::string_view rest = line.substr(sp + 1);
        while (!rest.empty() && (rest.back() == '\r' || rest.back() == '\n')) rest.remove_suffix(1);
        t.reason = rest;
      }
    }
    return size * n;
  }

  // Reads what curl_multi_info_read has: each finished transfer is recorded and replaced by the
  // next one waiting.
  void drain() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      complete(*t, msg->data.result);
    }
    while (active_ < config_.parallel && next_ < transfers_.size() && fatal_.empty()) add(transfers_[next_++]);
  }

  void complete(Transfer& t, CURLcode result) {
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &t.status);
    if (t.out != nullptr && std::fclose(t.out) != 0 && result == CURLE_OK) {
      t.error = config_.output_dir + "/" + std::to_string(t.index) + ": " + std::strerror(errno);
    }
    t.out = nullptr;
    if (result != CURLE_OK) {
      t.error = curl_easy_strerror(result);  // "Couldn't connect to server"
      if (t.curl_detail[0] != '\0' && t.error != t.curl_detail) t.error += std::string(" (") + t.curl_detail + ")";
    } else if (t.error.empty() && (t.status < 200 || t.status > 299)) {
      t.error = "HTTP " + std::to_string(t.status) + (t.reason.empty() ? "" : " " + t.reason);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (EVP_DigestFinal_ex(t.sha, md, &len) == 1) t.digest = hex(md, len);
    release(t);
    --active_;
    ++finished_;
  }

  void release(Transfer& t) {
    if (t.easy != nullptr) {
      curl_multi_remove_handle(multi_, t.easy);
      curl_easy_cleanup(t.easy);
      t.easy = nullptr;
    }
    if (t.out != nullptr) std::fclose(t.out);
    t.out = nullptr;
    EVP_MD_CTX_free(t.sha);
    t.sha = nullptr;
  }

  // The multi handle failed as a whole: every transfer not finished fails with that error.
  void abort_all() {
    for (auto& t : transfers_) {
      if (t.easy != nullptr) {  // in flight
        t.error = fatal_;
        release(t);
        --active_;
        ++finished_;
      } else if (t.index >= next_) {  // never started (they start in order)
        t.error = "not started: " + fatal_;
        ++finished_;
      }
    }
    next_ = transfers_.size();
  }

  void check_finished() {
    if (finished_ == transfers_.size() && !finished_called_) finish();
  }

  // Everything curl owns goes on this thread, before main() stops the client.
  void finish() {
    finished_called_ = true;
    if (timer_ != 0) loop_.cancel(timer_);
    timer_ = 0;
    // curl said CURL_POLL_REMOVE for every socket of a finished transfer; whatever is left
    // (nothing, normally) is unwatched before curl_multi_cleanup closes it.
    for (auto& [fd, w] : watches_) loop_.unwatch(w.id);
    watches_.clear();
    if (multi_ != nullptr) {
      for (auto& t : transfers_) release(t);
      curl_multi_cleanup(multi_);  // closes the connections it kept alive
      multi_ = nullptr;
    }
    done_.set_value();
  }

  gnet::Loop& loop_;
  const Config& config_;
  std::promise<void>& done_;
  CURLM* multi_ = nullptr;
  std::vector<Transfer> transfers_;
  std::size_t next_ = 0;      // transfers_[next_] is the next to start
  int active_ = 0;            // started, not finished
  std::size_t finished_ = 0;  // finished, with or without an error
  bool finished_called_ = false;
  std::string fatal_;  // the multi handle (or a watch) failed as a whole
  gnet::TimerId timer_ = 0;
  struct Watch {
    gnet::WatchId id;
    gnet::Ready interest;
  };
  std::unordered_map<curl_socket_t, Watch> watches_;  // curl's sockets, by descriptor
};

struct NoConnections final : gnet::EventHandler {};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"fetch URLs with libcurl's multi interface on a gnet loop"};
  Config config;
  cli.add_option("urls", config.urls, "http:// or https:// URLs")->required();
  cli.add_option("--parallel", config.parallel, "transfers in flight at once")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cli.add_option("--timeout-ms", config.timeout_ms, "limit for each whole transfer (0 = none)")
      ->check(CLI::Range(0L, 86'400'000L))
      ->capture_default_str();
  cli.add_option("--output-dir", config.output_dir, "write each body to DIR/<index>")
      ->check(CLI::ExistingDirectory);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }

  if (CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    std::fprintf(stderr, "fetch: curl_global_init: %s\n", curl_easy_strerror(rc));
    return 1;
  }
  NoConnections handler;
  gnet::Client client(handler, {.num_event_loop = 1, .logger = gnet::stderr_logger(gnet::LogLevel::warn)});
  if (auto r = client.start(); !r) {
    std::fprintf(stderr, "fetch: %s\n", r.error().message().c_str());
    curl_global_cleanup();
    return 1;
  }
  std::promise<void> done;
  Fetcher fetcher(client.engine().loop(0), config, done);
  if (auto ec = client.engine().loop(0).post([&fetcher] { fetcher.start(); })) {
    std::fprintf(stderr, "fetch: post: %s\n", ec.message().c_str());
    client.stop();
    curl_global_cleanup();
    return 1;
  }
  done.get_future().wait();  // finish() has run on the loop: nothing of curl's is left there
  client.stop();
  curl_global_cleanup();

  bool all_ok = fetcher.fatal().empty();
  if (!all_ok) std::fprintf(stderr, "fetch: %s\n", fetcher.fatal().c_str());
  for (const Transfer& t : fetcher.transfers()) {
    std::printf("%zu %ld %llu %s\n", t.index, t.status, static_cast<unsigned long long>(t.bytes),
                t.ok() ? t.digest.c_str() : t.error.c_str());
    if (!t.ok()) {
      std::fprintf(stderr, "fetch: [%zu] %s: %s\n", t.index, t.url.c_str(), t.error.c_str());
      all_ok = false;
    }
  }
  return all_ok ? 0 : 1;
}
