// peer_asio — echo server on Boost.Asio, the canonical shape of Asio's own async echo example:
// io_context on one thread (concurrency hint 1), one session per connection owning a small
// fixed 4 KiB buffer (allocated once with the session, never per read), async_read_some into it
// and async_write of what was read, then read again. Asio recycles its handler memory itself.
#include "peer_common.hpp"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (fixed in
// later Boost); with GCC 12 in C++20 mode it must come first.
#include <utility>

#include <boost/asio.hpp>

#include <array>
#include <cstdio>
#include <memory>

namespace {

using boost::asio::ip::tcp;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}
  void start() { do_read(); }

 private:
  void do_read() {
    socket_.async_read_some(boost::asio::buffer(data_),
                            [this, self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                              if (!ec) do_write(n);
                            });
  }
  void do_write(std::size_t n) {
    boost::asio::async_write(socket_, boost::asio::buffer(data_, n),
                             [this, self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                               if (!ec) do_read();
                             });
  }

  tcp::socket socket_;
  std::array<char, 4096> data_;
};

void do_accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](boost::system::error_code ec, tcp::socket socket) {
    if (!ec) {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(socket))->start();
    }
    do_accept(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  const int port = bench::parse_port(argc, argv);
  bench::raise_nofile();
  try {
    boost::asio::io_context ioc{1};
    tcp::acceptor acceptor(ioc);
    tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(bench::kBacklog);
    bench::announce("peer_asio", port);
    do_accept(acceptor);
    ioc.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "peer_asio: %s\n", e.what());
    return 1;
  }
  return 0;
}
