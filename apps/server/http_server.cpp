// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <csignal>
#include <ctime>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include "codec.h"

namespace cidrot::server {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace {

// RFC 9110 Date header, formatted once per second per thread.
const std::string& http_date() {
  thread_local std::time_t cached_second = 0;
  thread_local std::string cached;
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached = buf;
    cached_second = now;
  }
  return cached;
}

bool is_http_syntax_error(const beast::error_code& ec) {
  return ec.category() == beast::http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace

class Session;

struct HttpServer::Impl {
  Impl(const Router& r, Metrics& m, const Logger& l, ServerOptions o)
      : router(r),
        metrics(m),
        log(l),
        opt(std::move(o)),
        ioc(opt.io_threads),
        pool(static_cast<std::size_t>(std::max(1, opt.worker_threads))),
        acceptor(ioc),
        signals(ioc),
        accept_retry(ioc),
        flush_timer(ioc) {}

  void accept();
  void begin_shutdown();
  void flush_loop();
  void add(const std::shared_ptr<Session>& s);
  void remove(Session* s);

  const Router& router;
  Metrics& metrics;
  const Logger& log;
  ServerOptions opt;

  // Declared before the io_context: sessions destroyed with it still unregister here.
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  bool stop_requested = false;
  bool force_stop = false;
  std::atomic<bool> stopping{false};

  net::io_context ioc;
  net::thread_pool pool;  // destroyed before ioc: its queued work may hold sessions
  tcp::acceptor acceptor;
  net::signal_set signals;
  net::steady_timer accept_retry;
  net::steady_timer flush_timer;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, HttpServer::Impl& srv)
      : stream_(std::move(socket)), executor_(stream_.get_executor()), srv_(srv) {
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    remote_ = ec ? std::string("-") : ep.address().to_string();
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }
  ~Session() { srv_.remove(this); }

  void start() {
    net::dispatch(executor_, [self = shared_from_this()] { self->read_next(); });
  }

  // Graceful shutdown: a connection waiting for its next request (with nothing received) is
  // closed; one that has started sending a request, or is being answered, finishes (within the
  // read timeouts) and then closes.
  void shutdown() {
    net::post(executor_, [self = shared_from_this()] {
      if (self->state_ != State::kIdle) return;
      beast::error_code ec;
      if (self->stream_.socket().available(ec) > 0 && !ec) return;  // a request is arriving
      self->close();
    });
  }

 private:
  enum class State { kIdle, kReading, kProcessing, kWriting, kClosed };

  void read_next() {
    if (srv_.stopping.load() && buffer_.size() == 0) return close();
    state_ = State::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(srv_.opt.header_limit));
    // The route's own limit is applied once the headers say which route it is (on_header).
    parser_->body_limit(srv_.router.max_body_limit());
    if (buffer_.size() > 0) return read_header();  // a pipelined request is already here
    // Idle keep-alive: wait for the first byte under the idle timeout, then the header timeout
    // bounds the rest, so a client trickling bytes cannot hold the connection for long.
    state_ = State::kIdle;
    stream_.expires_after(srv_.opt.idle_timeout);
    stream_.async_read_some(buffer_.prepare(8192),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              // Closed by shutdown() while the bytes were on their way.
                              if (ec || self->state_ == State::kClosed) return self->close();
                              self->state_ = State::kReading;
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  void read_header() {
    stream_.expires_after(srv_.opt.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    const auto& h = parser_->get();
    const std::size_t limit = srv_.router.body_limit_for(h);
    parser_->body_limit(limit);
    if (const auto len = parser_->content_length(); len && *len > limit) {
      return reply_error(http::status::payload_too_large, "body_too_large",
                         "body: larger than " + std::to_string(limit) + " bytes");
    }
    if (parser_->is_done()) return on_request({});
    stream_.expires_after(srv_.opt.body_timeout);
    if (beast::iequals(h[http::field::expect], "100-continue")) {
      // curl and others wait for this before sending a body of more than 1 KiB.
      auto cont =
          std::make_shared<http::response<http::empty_body>>(http::status::continue_, h.version());
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code wec, std::size_t) {
                          if (wec) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_request(ec); });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      return reply_error(http::status::request_header_fields_too_large, "header_too_large",
                         "request line and headers larger than " +
                             std::to_string(srv_.opt.header_limit) + " bytes");
    }
    if (ec == http::error::body_limit) {
      return reply_error(http::status::payload_too_large, "body_too_large", "body: too large");
    }
    if (is_http_syntax_error(ec)) {
      return reply_error(http::status::bad_request, "bad_request",
                         "malformed HTTP request (" + ec.message() + ")");
    }
    close();  // end of stream, timeout, reset, shutdown
  }

  void on_request(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    stream_.expires_never();
    state_ = State::kProcessing;
    auto ex = std::make_shared<Exchange>(parser_->release(), remote_);
    srv_.router.prepare(*ex);
    if (!ex->needs_worker()) {
      srv_.router.run(*ex);
      return send(ex);
    }
    net::post(srv_.pool, [self = shared_from_this(), ex] {
      self->srv_.router.run(*ex);
      net::post(self->executor_, [self, ex] { self->send(ex); });
    });
  }

  // Answers a request that could not be read completely, then closes the connection.
  void reply_error(http::status status, std::string_view code, const std::string& message) {
    Request req;
    if (parser_ && parser_->is_header_done()) {
      req.method(parser_->get().method());
      req.target(parser_->get().target());
    }
    auto ex = std::make_shared<Exchange>(std::move(req), remote_);
    ex->ctx.res.version(11);
    set_error(ex->ctx.res, status, code, "", message);
    ex->ctx.res.keep_alive(false);
    ex->done = true;
    state_ = State::kProcessing;
    send(ex);
  }

  void send(const std::shared_ptr<Exchange>& ex) {
    if (state_ == State::kClosed) return;
    Response& res = ex->ctx.res;
    res.set(http::field::server, "cidrot");
    res.set(http::field::date, http_date());
    if (srv_.stopping.load()) res.keep_alive(false);
    res.prepare_payload();
    state_ = State::kWriting;
    stream_.expires_after(srv_.opt.write_timeout);
    http::async_write(stream_, res,
                      [self = shared_from_this(), ex](beast::error_code ec, std::size_t) {
                        self->on_write(ec, *ex);
                      });
  }

  void on_write(beast::error_code ec, const Exchange& ex) {
    const Response& res = ex.ctx.res;
    srv_.metrics.count_request(ex.route_index, res.result_int());
    if (srv_.log.enabled(LogLevel::kInfo)) {
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - ex.start)
              .count();
      const std::string_view method = ex.req.method_string();
      const std::string_view target = ex.req.target();
      srv_.log.access(remote_, method.empty() ? "-" : method, target.empty() ? "-" : target,
                      res.result_int(), res.body().size(), ms);
    }
    if (ec) return close();
    if (!res.keep_alive()) return linger();
    read_next();
  }

  // Closes after a response the client may still be sending to (e.g. a 413 before the body was
  // read): shut down our side, then drain briefly, so the kernel does not answer the unread
  // bytes with a reset that destroys the response before the client reads it.
  void linger() {
    state_ = State::kClosed;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return stream_.close();
    stream_.expires_after(std::chrono::seconds(2));
    drain(0);
  }

  void drain(std::size_t drained) {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(16384), [self = shared_from_this(), drained](
                                                        beast::error_code ec, std::size_t n) {
      if (ec || drained + n > (1u << 20)) return self->stream_.close();
      self->drain(drained + n);
    });
  }

  void close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  net::any_io_executor executor_;
  HttpServer::Impl& srv_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;
  State state_ = State::kIdle;
};

void HttpServer::Impl::add(const std::shared_ptr<Session>& s) {
  std::lock_guard<std::mutex> lock(mu);
  sessions.emplace(s.get(), s);
  metrics.connection_opened();
}

void HttpServer::Impl::remove(Session* s) {
  std::lock_guard<std::mutex> lock(mu);
  if (sessions.erase(s) == 0) return;
  metrics.connection_closed();
  if (stop_requested && sessions.empty()) cv.notify_all();
}

void HttpServer::Impl::accept() {
  // With several I/O threads each connection gets a strand; with one (the default) the
  // io_context already serialises everything and a strand would only add a queue per handler.
  const net::any_io_executor executor = opt.io_threads > 1
                                            ? net::any_io_executor(net::make_strand(ioc))
                                            : net::any_io_executor(ioc.get_executor());
  acceptor.async_accept(executor, [this](beast::error_code ec, tcp::socket socket) {
    if (stopping.load()) return;
    if (ec) {
      if (ec == net::error::operation_aborted) return;
      // Out of descriptors and the like: back off instead of spinning on accept().
      log.log(LogLevel::kWarning, "accept failed: " + ec.message());
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](beast::error_code tec) {
        if (!tec) accept();
      });
      return;
    }
    bool full;
    {
      std::lock_guard<std::mutex> lock(mu);
      full = sessions.size() >= opt.max_connections;
    }
    if (full) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      auto session = std::make_shared<Session>(std::move(socket), *this);
      add(session);
      session->start();
    }
    accept();
  });
}

void HttpServer::Impl::flush_loop() {
  flush_timer.expires_after(std::chrono::seconds(1));
  flush_timer.async_wait([this](beast::error_code ec) {
    log.flush();
    if (!ec && !stopping.load()) flush_loop();
  });
}

void HttpServer::Impl::begin_shutdown() {
  beast::error_code ec;
  acceptor.close(ec);
  accept_retry.cancel();
  flush_timer.cancel();
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [ptr, weak] : sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->shutdown();
}

HttpServer::HttpServer(const Router& router, Metrics& metrics, const Logger& logger,
                       ServerOptions options)
    : impl_(std::make_unique<Impl>(router, metrics, logger, std::move(options))) {
  const auto& opt = impl_->opt;
  beast::error_code ec;
  const auto address = net::ip::make_address(opt.host, ec);
  if (ec) throw std::runtime_error("cannot listen on " + opt.host + ": not an IP address");
  const tcp::endpoint endpoint(address, opt.port);
  auto& acc = impl_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + opt.host + ":" + std::to_string(opt.port) +
                             ": " + ec.message());
  }
}

HttpServer::~HttpServer() = default;

std::uint16_t HttpServer::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void HttpServer::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.stop_requested) {
      s.force_stop = true;  // a second request: stop now
    }
    s.stop_requested = true;
  }
  if (!s.stopping.exchange(true)) net::post(s.ioc, [&s] { s.begin_shutdown(); });
  s.cv.notify_all();
}

void HttpServer::run(bool handle_signals) {
  Impl& s = *impl_;
  // Lives on this frame until the I/O threads are joined below.
  std::function<void(beast::error_code, int)> on_signal = [this, &s, &on_signal](
                                                              beast::error_code ec, int sig) {
    if (ec) return;
    s.log.log(LogLevel::kInfo, std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                                   ": finishing in-flight requests (again to stop at once)");
    stop();
    s.signals.async_wait(on_signal);
  };
  if (handle_signals) {
    s.signals.add(SIGINT);
    s.signals.add(SIGTERM);
    s.signals.async_wait(on_signal);
  }
  s.accept();
  s.flush_loop();
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, s.opt.io_threads); ++i) {
    threads.emplace_back([&s] { s.ioc.run(); });
  }
  {
    std::unique_lock<std::mutex> lock(s.mu);
    s.cv.wait(lock, [&s] { return s.stop_requested; });
    s.cv.wait_for(lock, s.opt.shutdown_grace, [&s] { return s.sessions.empty() || s.force_stop; });
  }
  s.ioc.stop();
  for (auto& t : threads) t.join();
  s.pool.join();
  s.log.flush();
}

}  // namespace cidrot::server
