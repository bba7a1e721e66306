// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT

#include "http_server.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <condition_variable>
#include <csignal>
#include <ctime>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include "codec.h"
#include "hand_off.h"
#include "thread_name.h"

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
using SessionPtr = std::shared_ptr<Session>;

struct HttpServer::Impl {
  Impl(const Router& r, Metrics& m, const Logger& l, ServerOptions o)
      : router(r),
        metrics(m),
        log(l),
        opt(std::move(o)),
        ioc(opt.io_threads),
        acceptor(ioc),
        signals(ioc),
        accept_retry(ioc),
        flush_timer(ioc),
        sweep_timer(ioc),
        pool(
            HandOffOptions{std::max(1, opt.worker_threads), opt.worker_spin},
            [this](SessionPtr& s) { run_on_worker(s); },
            // Without batch routes (a store that does not batch leases) no worker is set apart
            // for batches.
            has_batch_routes(router) ? &batchable : nullptr,
            [this](std::vector<SessionPtr>& batch) { run_batch_on_worker(batch); }) {}

  static bool has_batch_routes(const Router& r) {
    return std::any_of(r.routes().begin(), r.routes().end(),
                       [](const Route& route) { return route.batch_handler != nullptr; });
  }

  void accept();
  void begin_shutdown();
  void flush_loop();
  void sweep_loop();
  void add(const SessionPtr& s);
  void remove(Session* s);
  void run_on_worker(SessionPtr& s);
  // Several requests of one batchable route (/next-cid) that were waiting together.
  void run_batch_on_worker(std::vector<SessionPtr>& batch);
  void complete(SessionPtr* answered, std::size_t count);
  static bool batchable(const SessionPtr& s);
  void drain_completions();
  void io_loop();

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
  tcp::acceptor acceptor;
  net::signal_set signals;
  net::steady_timer accept_retry;
  net::steady_timer flush_timer;
  net::steady_timer sweep_timer;

  // Answers coming back from the workers, handed to the I/O thread in batches: one post (and at
  // most one reactor wake-up) for whatever finished while the I/O thread was busy. Destroyed
  // after the pool (which may still add to it) and before the io_context (sessions hold sockets).
  std::mutex done_mu;
  std::vector<SessionPtr> done;
  bool drain_posted = false;
  std::atomic<int> in_pool{0};  // requests pushed to the pool whose answers are not back yet

  HandOff<SessionPtr> pool;  // destroyed first: its queued work holds sessions
};

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t ticks(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

constexpr std::int64_t kNoDeadline = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t kKeptBuffer = 64 * 1024;

void append_uint(std::string& out, std::size_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// The response as bytes: what Beast's serializer writes for a string body, plus Server and Date,
// appended to `out` (whose capacity each connection keeps, so the steady state allocates nothing).
// The answer to a HEAD has the headers of the GET's, Content-Length included, and no body: a body
// would be read as the start of the next response.
void serialize(const Response& res, bool head, std::string& out) {
  const std::string_view reason = res.reason();
  const std::string_view body = res.body();
  out += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  append_uint(out, res.result_int());
  out += ' ';
  out += reason;
  out += "\r\nServer: cidrot\r\nDate: ";
  out += http_date();
  out += "\r\n";
  for (const auto& f : res) {
    out += f.name_string();
    out += ": ";
    out += f.value();
    out += "\r\n";
  }
  out += "\r\n";
  if (!head) out += body;
}

}  // namespace

// One connection. Reads and parses requests itself (Beast's parser fed from a flat_buffer kept
// for the connection's life), writes each response with one send() when the socket takes it, and
// keeps its timeout as a deadline that a periodic sweep checks, so a request costs no timer
// operations and no composed-operation machinery.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, HttpServer::Impl& srv)
      : socket_(std::move(socket)), executor_(socket_.get_executor()), srv_(srv) {
    beast::error_code ec;
    const auto ep = socket_.remote_endpoint(ec);
    remote_ = ec ? std::string("-") : ep.address().to_string();
    socket_.set_option(tcp::no_delay(true), ec);
    // Synchronous writes below must never block the I/O thread.
    socket_.non_blocking(true, ec);
  }
  ~Session() { srv_.remove(this); }

  void start() {
    net::dispatch(executor_, [self = shared_from_this()] { self->read_next(); });
  }

  const net::any_io_executor& executor() const { return executor_; }

  // Graceful shutdown: a connection waiting for its next request (with nothing received) is
  // closed; one that has started sending a request, or is being answered, finishes (within the
  // read timeouts) and then closes.
  void shutdown() {
    net::post(executor_, [self = shared_from_this()] {
      if (self->state_ != State::kIdle) return;
      beast::error_code ec;
      if (self->socket_.available(ec) > 0 && !ec) return;  // a request is arriving
      self->close();
    });
  }

  // From the sweep (any thread): closes the connection if its deadline has passed.
  void check_deadline(std::int64_t now) {
    if (deadline_.load(std::memory_order_relaxed) > now) return;
    net::post(executor_, [self = shared_from_this()] {
      if (self->deadline_.load(std::memory_order_relaxed) > ticks(Clock::now())) return;
      self->deadline_.store(kNoDeadline, std::memory_order_relaxed);
      // Cancels the pending read or write; its handler sees the error and closes.
      beast::error_code ec;
      self->socket_.close(ec);
    });
  }

  // On a worker thread.
  void run_handler() { srv_.router.run(*ex_); }
  // On a worker, while the session waits in the pool (the I/O thread leaves it alone then).
  bool batchable() const { return ex_ && ex_->batchable(); }
  Exchange* exchange() { return &*ex_; }

  // Back on the connection's executor.
  void send() {
    if (state_ == State::kClosed) return;
    Response& res = ex_->ctx.res;
    if (srv_.stopping.load()) res.keep_alive(false);
    res.prepare_payload();
    out_.clear();
    serialize(res, ex_->req.method() == http::verb::head, out_);
    state_ = State::kWriting;
    write(0);
  }

 private:
  enum class State { kIdle, kReading, kProcessing, kWriting, kClosed };

  void set_deadline(std::chrono::milliseconds d) {
    deadline_.store(ticks(Clock::now() + d), std::memory_order_relaxed);
  }

  void read_next() {
    if (srv_.stopping.load() && buffer_.size() == 0) return close();
    state_ = State::kReading;
    header_seen_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(srv_.opt.header_limit));
    // The route's own limit is applied, and a Content-Length over it refused with that limit in
    // the message, once the headers say which route it is (on_header). No body byte is parsed
    // before then: the parser stops after the header (it is not eager).
    parser_->body_limit(boost::none);
    if (buffer_.size() > 0) {
      // A pipelined request is already here. Posted, not called, so that a client pipelining
      // thousands of requests cannot make the stack grow with them.
      set_deadline(srv_.opt.header_timeout);
      net::post(executor_, [self = shared_from_this()] { self->parse(); });
      return;
    }
    // Idle keep-alive: wait for the first byte under the idle timeout, then the header timeout
    // bounds the rest, so a client trickling bytes cannot hold the connection for long.
    state_ = State::kIdle;
    set_deadline(srv_.opt.idle_timeout);
    read_more();
  }

  void read_more() {
    const std::size_t want = parser_->is_header_done() ? 65536 : 4096;
    socket_.async_read_some(buffer_.prepare(want),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              // Closed by shutdown() while the bytes were on their way.
                              if (ec || self->state_ == State::kClosed) return self->close();
                              if (self->state_ == State::kIdle) {
                                self->state_ = State::kReading;
                                self->set_deadline(self->srv_.opt.header_timeout);
                              }
                              self->buffer_.commit(n);
                              self->parse();
                            });
  }

  // Feeds what has been read to the parser; reads more, answers, or starts the request.
  void parse() {
    if (state_ == State::kClosed) return;
    for (;;) {
      if (!parser_->is_done() && buffer_.size() > 0) {
        beast::error_code ec;
        const std::size_t n = parser_->put(buffer_.data(), ec);
        buffer_.consume(n);
        if (ec && ec != http::error::need_more) return on_read_error(ec);
        if (ec && !(parser_->is_header_done() && !header_seen_)) return read_more();
        if (n == 0 && !ec && !parser_->is_done() && header_seen_) return read_more();
      }
      if (parser_->is_header_done() && !header_seen_) {
        header_seen_ = true;
        if (!on_header()) return;
        continue;
      }
      if (parser_->is_done()) return on_request();
      if (buffer_.size() == 0) return read_more();
    }
  }

  // False when the request has been answered or the body waits for a 100 Continue write.
  bool on_header() {
    const auto& h = parser_->get();
    const std::size_t limit = srv_.router.body_limit_for(h);
    parser_->body_limit(limit);
    if (const auto len = parser_->content_length(); len && *len > limit) {
      reply_error(http::status::payload_too_large, "body_too_large",
                  "body: larger than " + std::to_string(limit) + " bytes");
      return false;
    }
    if (parser_->is_done()) return true;
    set_deadline(srv_.opt.body_timeout);
    if (beast::iequals(h[http::field::expect], "100-continue")) {
      // curl and others wait for this before sending a body of more than 1 KiB.
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(socket_, net::buffer(kContinue.data(), kContinue.size()),
                       [self = shared_from_this()](beast::error_code wec, std::size_t) {
                         if (wec) return self->close();
                         self->parse();
                       });
      return false;
    }
    return true;
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      return reply_error(http::status::request_header_fields_too_large, "header_too_large",
                         "request line and headers larger than " +
                             std::to_string(srv_.opt.header_limit) + " bytes");
    }
    if (ec == http::error::body_limit) {
      // A chunked body that outgrew the limit on_header() set.
      return reply_error(http::status::payload_too_large, "body_too_large",
                         "body: larger than " +
                             std::to_string(srv_.router.body_limit_for(parser_->get())) + " bytes");
    }
    if (is_http_syntax_error(ec)) {
      return reply_error(http::status::bad_request, "bad_request",
                         "malformed HTTP request (" + ec.message() + ")");
    }
    close();  // end of stream, timeout, reset, shutdown
  }

  void on_request() {
    deadline_.store(kNoDeadline, std::memory_order_relaxed);
    state_ = State::kProcessing;
    ex_.emplace(parser_->release(), remote_);
    srv_.router.prepare(*ex_);
    if (!ex_->needs_worker()) {
      srv_.router.run(*ex_);
      return send();
    }
    srv_.in_pool.fetch_add(1, std::memory_order_relaxed);
    srv_.pool.push(shared_from_this());
  }

  // Answers a request that could not be read completely, then closes the connection.
  void reply_error(http::status status, std::string_view code, const std::string& message) {
    Request req;
    if (parser_ && parser_->is_header_done()) {
      req.method(parser_->get().method());
      req.target(parser_->get().target());
    }
    ex_.emplace(std::move(req), remote_);
    ex_->ctx.res.version(11);
    set_error(ex_->ctx.res, status, code, "", message);
    ex_->ctx.res.keep_alive(false);
    ex_->done = true;
    state_ = State::kProcessing;
    send();
  }

  // Sends out_ from `offset`: at once while the socket takes it (the usual case: one send() for
  // the whole response), the rest asynchronously under the write timeout.
  void write(std::size_t offset) {
    beast::error_code ec;
    while (offset < out_.size()) {
      const std::size_t n =
          socket_.write_some(net::buffer(out_.data() + offset, out_.size() - offset), ec);
      if (ec) break;
      offset += n;
    }
    if (offset == out_.size()) return on_write({});
    if (ec != net::error::would_block && ec != net::error::try_again) return on_write(ec);
    set_deadline(srv_.opt.write_timeout);
    net::async_write(
        socket_, net::buffer(out_.data() + offset, out_.size() - offset),
        [self = shared_from_this()](beast::error_code wec, std::size_t) { self->on_write(wec); });
  }

  void on_write(beast::error_code ec) {
    deadline_.store(kNoDeadline, std::memory_order_relaxed);
    const Exchange& ex = *ex_;
    const Response& res = ex.ctx.res;
    srv_.metrics.count_request(ex.route_index, res.result_int());
    if (srv_.log.enabled(LogLevel::kInfo)) {
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - ex.start).count();
      const std::string_view method = ex.req.method_string();
      const std::string_view target = ex.req.target();
      // Body bytes sent, as servers log them: none for a HEAD.
      const std::size_t bytes = ex.req.method() == http::verb::head ? 0 : res.body().size();
      srv_.log.access(remote_, method.empty() ? "-" : method, target.empty() ? "-" : target,
                      res.result_int(), bytes, ms);
    }
    const bool keep_alive = res.keep_alive();
    ex_.reset();
    // The buffers keep their capacity between requests, but not what one large import or
    // listing needed: ten thousand idle connections must not each hold megabytes.
    if (out_.capacity() > kKeptBuffer) std::string().swap(out_);
    if (buffer_.capacity() > kKeptBuffer && buffer_.size() == 0) buffer_.shrink_to_fit();
    if (ec) return close();
    if (!keep_alive) return linger();
    read_next();
  }

  // Closes after a response the client may still be sending to (e.g. a 413 before the body was
  // read): shut down our side, then drain briefly, so the kernel does not answer the unread
  // bytes with a reset that destroys the response before the client reads it.
  void linger() {
    state_ = State::kClosed;
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return (void)socket_.close(ec);
    set_deadline(std::chrono::seconds(2));
    drain(0);
  }

  void drain(std::size_t drained) {
    buffer_.clear();
    socket_.async_read_some(buffer_.prepare(16384), [self = shared_from_this(), drained](
                                                        beast::error_code ec, std::size_t n) {
      beast::error_code ignored;
      if (ec || drained + n > (1u << 20)) return (void)self->socket_.close(ignored);
      self->drain(drained + n);
    });
  }

  void close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    deadline_.store(kNoDeadline, std::memory_order_relaxed);
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  net::any_io_executor executor_;
  HttpServer::Impl& srv_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool header_seen_ = false;
  std::optional<Exchange> ex_;
  std::string out_;
  std::string remote_;
  State state_ = State::kIdle;
  std::atomic<std::int64_t> deadline_{kNoDeadline};
};

void HttpServer::Impl::run_on_worker(SessionPtr& s) {
  s->run_handler();
  complete(&s, 1);
}

bool HttpServer::Impl::batchable(const SessionPtr& s) { return s->batchable(); }

void HttpServer::Impl::run_batch_on_worker(std::vector<SessionPtr>& batch) {
  thread_local std::vector<Exchange*> exchanges;
  exchanges.clear();
  for (const SessionPtr& s : batch) exchanges.push_back(s->exchange());
  router.run_batch(exchanges.data(), exchanges.size());
  complete(batch.data(), batch.size());
}

// Hands answered sessions back to the I/O thread: one post for whatever finished meanwhile.
void HttpServer::Impl::complete(SessionPtr* answered, std::size_t count) {
  bool post = false;
  {
    std::lock_guard<std::mutex> lock(done_mu);
    for (std::size_t i = 0; i < count; ++i) done.push_back(std::move(answered[i]));
    post = !drain_posted;
    drain_posted = true;
  }
  if (post) net::post(ioc, [this] { drain_completions(); });
}

void HttpServer::Impl::drain_completions() {
  // Per thread: with several I/O threads two drains can run at once. Swapped with `done`, so
  // both vectors keep their capacity and a drain allocates nothing.
  thread_local std::vector<SessionPtr> batch;
  {
    std::lock_guard<std::mutex> lock(done_mu);
    batch.swap(done);
    drain_posted = false;
  }
  in_pool.fetch_sub(static_cast<int>(batch.size()), std::memory_order_relaxed);
  for (auto& s : batch) {
    if (opt.io_threads > 1) {
      net::dispatch(s->executor(), [s] { s->send(); });
    } else {
      s->send();
    }
  }
  batch.clear();
}

void HttpServer::Impl::io_loop() {
  if (opt.io_threads > 1 || opt.io_spin.count() == 0) {
    ioc.run();
    return;
  }
  // While answers are due from the workers, poll (epoll_wait with no timeout, yielding the core
  // in between) instead of sleeping: a sleeping I/O thread must be woken by the worker's post,
  // once per request when the store is fast, and on a VM that wake-up costs more than the polls.
  // Only for a fast store: a blocking one (SQLite) has answers due nearly all the time, each
  // some hundreds of microseconds away, and polling for them would only burn the core.
  for (;;) {
    if (ioc.poll() > 0) continue;
    if (ioc.stopped()) return;
    if (in_pool.load(std::memory_order_relaxed) > 0 && !pool.jobs_are_slow()) {
      const auto until = Clock::now() + opt.io_spin;
      bool ran = false;
      while (!ran && in_pool.load(std::memory_order_relaxed) > 0 && Clock::now() < until) {
        std::this_thread::yield();
        ran = ioc.poll() > 0;
      }
      if (ran) continue;
    }
    if (ioc.run_one() == 0 && ioc.stopped()) return;
  }
}

void HttpServer::Impl::sweep_loop() {
  // Often enough that the shortest timeout is honoured within about an eighth of itself.
  const auto shortest =
      std::min({opt.idle_timeout, opt.header_timeout, opt.body_timeout, opt.write_timeout});
  const auto tick =
      std::clamp(shortest / 8, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
  sweep_timer.expires_after(tick);
  sweep_timer.async_wait([this](beast::error_code ec) {
    if (ec) return;
    const std::int64_t now = ticks(Clock::now());
    std::vector<SessionPtr> live;
    {
      std::lock_guard<std::mutex> lock(mu);
      live.reserve(sessions.size());
      for (auto& [ptr, weak] : sessions) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) s->check_deadline(now);
    live.clear();
    sweep_loop();
  });
}

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
      // Once, then at every power of two: a client storm must not become a log storm.
      const std::uint64_t refused = metrics.connection_refused();
      if ((refused & (refused - 1)) == 0) {
        log.log(LogLevel::kWarning,
                std::to_string(opt.max_connections) +
                    " connections are open (--max-connections, or the descriptor limit): "
                    "closed a new one at once (" +
                    std::to_string(refused) + " so far)");
      }
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
  s.sweep_loop();
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, s.opt.io_threads); ++i) {
    threads.emplace_back([&s] {
      name_this_thread("cidrot-io");
      s.io_loop();
    });
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
