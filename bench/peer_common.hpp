// Shared bits of the peer echo servers: `--port P` parsing and the file-descriptor limit.
// Every peer listens on 127.0.0.1 only, on one thread.
#pragma once

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bench {

inline constexpr int kBacklog = 4096;  // the kernel caps it at net.core.somaxconn

// Accepts `--port P` or `--port=P`; exits with a message on anything else.
inline int parse_port(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    const char* v = nullptr;
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      v = argv[++i];
    } else if (std::strncmp(argv[i], "--port=", 7) == 0) {
      v = argv[i] + 7;
    } else {
      std::fprintf(stderr, "usage: %s --port P\n", argv[0]);
      std::exit(2);
    }
    char* end = nullptr;
    long p = std::strtol(v, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535) {
      std::fprintf(stderr, "%s: bad port '%s'\n", argv[0], v);
      std::exit(2);
    }
    port = static_cast<int>(p);
  }
  if (port == 0) {
    std::fprintf(stderr, "usage: %s --port P\n", argv[0]);
    std::exit(2);
  }
  return port;
}

// Raises the soft RLIMIT_NOFILE to the hard limit (10 000 connections need it).
inline void raise_nofile() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

inline void announce(const char* name, int port) {
  std::printf("%s: echo on 127.0.0.1:%d\n", name, port);
  std::fflush(stdout);
}

}  // namespace bench
