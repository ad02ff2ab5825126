// binary_upgrade.hpp — the nginx binary-upgrade shape for the examples (echo, http), on
// gnet/upgrade.hpp. Header-only; shared by examples that include it by relative path.
//
//   kill -USR2 <pid>      the running server starts its successor: the same binary (as found at
//                         its path now, so a new build there is what starts) with the same
//                         arguments plus --upgrade-from PATH (a fresh private directory); hands
//                         its listening sockets over on PATH; stops accepting; serves its open
//                         connections until they close or Options::shutdown_timeout passes; exits.
//   <server> ... --upgrade-from PATH
//                         the successor: receives the sockets on PATH (Successor::inherit) and
//                         runs on them.
// If the successor fails to start, or does not take the sockets within the deadline, the old
// process kills it, says why on stderr, and keeps serving.
//
// Threads: SIGUSR2 is blocked in every thread (construct this in main before any thread starts)
// and taken with sigtimedwait on a thread of its own, which calls Engine::hand_over (it blocks).
#pragma once

#include <gnet/gnet.hpp>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace example {

class BinaryUpgrade {
 public:
  // name: for log lines ("http"); argv: this process's command line, repeated for the successor
  // (an --upgrade-from already in it is replaced).
  BinaryUpgrade(std::string name, int argc, char** argv, std::chrono::milliseconds deadline = std::chrono::seconds(10))
      : name_(std::move(name)), deadline_(deadline) {
    char exe[4096];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    // The path, not the open file: a binary replaced there since is the one that starts.
    exe_ = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : std::string(argv[0]);
    const std::string deleted = " (deleted)";
    if (exe_.size() > deleted.size() && exe_.ends_with(deleted)) exe_.resize(exe_.size() - deleted.size());
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--upgrade-from") {
        ++i;
        continue;
      }
      if (a.starts_with("--upgrade-from=")) continue;
      args_.push_back(a);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    thread_ = std::thread([this] { wait_for_signals(); });
  }
  ~BinaryUpgrade() {
    done_ = true;
    thread_.join();
  }
  BinaryUpgrade(const BinaryUpgrade&) = delete;
  BinaryUpgrade& operator=(const BinaryUpgrade&) = delete;

  // From on_boot (the engine) and on_shutdown (nullptr): which engine a SIGUSR2 hands over.
  // On boot, a Type=notify systemd service (NOTIFY_SOCKET set) is told this process is ready
  // and is the service's main process: after a SIGUSR2 upgrade that is the successor, which
  // systemd then follows (NotifyAccess=all; docs/deploy.md). No STOPPING=1 at shutdown: an old
  // process that handed over must not make systemd think the service is stopping.
  void attach(gnet::Engine* engine) {
    engine_.store(engine);
    if (engine == nullptr) return;
    auto told = gnet::sd_notify("MAINPID=" + std::to_string(::getpid()) + "\nREADY=1");
    if (!told) log("systemd notification failed: " + told.error().message());
  }

  // The listening sockets this process starts with: offered on `from` (the --upgrade-from
  // argument) by the process that started it, else those systemd passed (LISTEN_FDS; an empty
  // set when there are none, and the server binds its address itself).
  static gnet::Result<gnet::InheritedListeners> inherit(const std::string& from) {
    if (from.empty()) return gnet::listen_fds_from_systemd();
    return gnet::receive_listeners(from, std::chrono::seconds(10));
  }

 private:
  void wait_for_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    while (!done_) {
      timespec wait{0, 100 * 1000 * 1000};
      if (::sigtimedwait(&set, nullptr, &wait) == SIGUSR2) upgrade();
    }
  }

  void log(const std::string& line) {
    std::fprintf(stderr, "%s: upgrade: %s\n", name_.c_str(), line.c_str());
    std::fflush(stderr);
  }

  void upgrade() {
    gnet::Engine* engine = engine_.load();
    if (engine == nullptr || engine->stopping()) return log("SIGUSR2 ignored: not serving");
    if (engine->handed_over()) return log("SIGUSR2 ignored: already handed over, draining");

    std::string dir = (std::filesystem::temp_directory_path() / ("gnet-" + name_ + "-upgrade-XXXXXX")).string();
    if (::mkdtemp(dir.data()) == nullptr) return log(std::string("mkdtemp: ") + std::strerror(errno) + "; still serving");
    const std::string path = dir + "/handover.sock";

    std::vector<std::string> args{exe_};
    args.insert(args.end(), args_.begin(), args_.end());
    args.push_back("--upgrade-from");
    args.push_back(path);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);  // the successor blocks what it wants itself
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t child = -1;
    int rc = ::posix_spawn(&child, exe_.c_str(), nullptr, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      std::filesystem::remove_all(dir);
      return log("cannot start " + exe_ + ": " + std::strerror(rc) + "; still serving");
    }
    log("started successor pid " + std::to_string(child) + "; handing over on " + path);

    auto handed = engine->hand_over(path, deadline_);
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    if (handed) {
      log("pid " + std::to_string(child) + " serves now; finishing open connections, then exiting");
      return;
    }
    log("successor pid " + std::to_string(child) + " did not take over: " + handed.error().message() +
        "; still serving");
    ::kill(child, SIGTERM);
    for (int i = 0; i < 200; ++i) {  // up to 2 s, then SIGKILL
      if (::waitpid(child, nullptr, WNOHANG) == child) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }

  std::string name_;
  std::chrono::milliseconds deadline_;
  std::string exe_;
  std::vector<std::string> args_;
  std::atomic<gnet::Engine*> engine_{nullptr};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace example
