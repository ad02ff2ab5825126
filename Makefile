# gnet-cpp — the two quick-start commands are `make run` and `make test`.
JOBS ?= $(shell nproc)
BUILD_PACKAGES := cmake g++ make pkg-config liburing-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libssl-dev libcurl4-openssl-dev libc-ares-dev
TEST_PACKAGES := curl python3 python3-websockets python3-prometheus-client redis-tools redis-server wrk nghttp2-client chromium openssl haproxy
SCALE_PACKAGES := haproxy wrk curl iproute2 python3
FUZZ_PACKAGES := clang libclang-rt-dev
BENCH_PACKAGES := libuv1-dev libevent-dev libboost-dev nginx wrk strace python3-matplotlib openssl redis-server redis-tools haproxy golang-go golang-go.uber-zap-dev golang-gopkg-natefinch-lumberjack.v2-dev golang-github-valyala-bytebufferpool-dev
RUN_ADDR ?= 127.0.0.1
RUN_PORT ?= 8080

FUZZ_SECONDS ?= 60
FUZZ_ONLY ?=
SCALE_SECONDS ?= 10

.PHONY: all build run test test-asan test-tsan test-release test-scale fuzz bench deps deps-test deps-bench deps-fuzz deps-scale install clean

all: build

# Installs what is missing, with apt, only when running as root (CI and fresh machines).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "missing packages (run as root or install them):$$missing"; fi; \
	fi
endef

deps:
	$(call apt_install,$(BUILD_PACKAGES))
deps-test: deps
	$(call apt_install,$(TEST_PACKAGES))
deps-bench: deps
	$(call apt_install,$(BENCH_PACKAGES))
deps-fuzz: deps
	$(call apt_install,$(FUZZ_PACKAGES))
deps-scale: deps
	$(call apt_install,$(SCALE_PACKAGES))

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGNET_BUILD_TESTS=OFF
	cmake --build build -j $(JOBS)

# Builds and starts the showcase server (WebSocket chat when present, else echo) until Ctrl-C.
run: build
	@if [ -x build/examples/websocket ]; then \
	  echo "chat: open http://$(RUN_ADDR):$(RUN_PORT)/ in a browser"; \
	  exec build/examples/websocket --host $(RUN_ADDR) --port $(RUN_PORT) --mode broadcast; \
	else exec build/examples/echo --host $(RUN_ADDR) --port 9000; fi

# Debug build with AddressSanitizer + UndefinedBehaviorSanitizer, every test; then the threaded
# tests under ThreadSanitizer.
test: deps-test test-asan test-tsan

test-asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DGNET_WERROR=ON -DGNET_SANITIZE=address,undefined
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS) --timeout 600

test-tsan:
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGNET_WERROR=ON -DGNET_SANITIZE=thread -DGNET_BUILD_EXAMPLES=ON
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --output-on-failure -L threaded -j $(JOBS) --timeout 600

# The packager's build (default Release, tests on), with warnings as errors so GCC's optimiser-only
# warnings (-Wrestrict, -Wstringop-overflow, ...) cannot slip in. CI runs it after make test.
test-release: deps
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DGNET_WERROR=ON
	cmake --build build-release -j $(JOBS)

# libFuzzer harnesses (clang): each runs FUZZ_SECONDS (FUZZ_ONLY=name,name picks some); a crash is
# saved to fuzz/regressions/<name>/, which make test replays from then on.
# Scale-out (docs/deploy.md): four http instances in network namespaces behind HAProxy (tcp mode,
# health checks, send-proxy-v2), driven by wrk for SCALE_SECONDS per phase; one instance killed
# mid-run. Root only (namespaces); about 3 x SCALE_SECONDS + 10 s. Not part of `make test`.
test-scale: deps-scale
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGNET_BUILD_TESTS=OFF
	cmake --build build --target http -j $(JOBS)
	/usr/bin/python3 tests/scale/scale_test.py build/examples/http --duration $(SCALE_SECONDS)

fuzz: deps-fuzz
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGNET_FUZZ=ON \
	  -DGNET_BUILD_TESTS=OFF -DGNET_SANITIZE=address,undefined
	cmake --build build-fuzz -j $(JOBS)
	/usr/bin/python3 fuzz/run_fuzz.py --build build-fuzz --seconds $(FUZZ_SECONDS) $(if $(FUZZ_ONLY),--only $(FUZZ_ONLY))

bench: deps-bench
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DGNET_BUILD_TESTS=OFF -DGNET_BUILD_BENCH=ON
	cmake --build build-bench -j $(JOBS)
	/usr/bin/python3 bench/run_bench.py --build build-bench

install: build
	cmake --install build

clean:
	rm -rf build build-asan build-tsan build-bench build-release build-fuzz
