// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The network half of cidrot-server (Boost.Beast): accepts connections, reads requests with
// bounded sizes and times, hands each to the Router (store work on a worker pool so the I/O
// threads never block), writes responses in order, logs and counts them, and shuts down
// gracefully on SIGINT/SIGTERM: stop accepting, close idle connections, answer what is in flight,
// then return.

#ifndef CIDROT_SERVER_HTTP_SERVER_H_
#define CIDROT_SERVER_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "log.h"
#include "metrics.h"
#include "router.h"

namespace cidrot::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;  // 0 = any free port (see HttpServer::port())
  int io_threads = 1;
  int worker_threads = 8;                     // store calls run here (hand_off.h)
  std::chrono::microseconds worker_spin{50};  // an idle worker looks this long, then sleeps
  std::chrono::microseconds io_spin{50};      // with answers due, the I/O thread polls this long
  std::size_t header_limit = 16 * 1024;       // request line + headers; larger -> 431
  std::chrono::milliseconds idle_timeout{60000};    // keep-alive wait for the next request
  std::chrono::milliseconds header_timeout{10000};  // first byte to end of headers
  std::chrono::milliseconds body_timeout{30000};    // reading the body
  std::chrono::milliseconds write_timeout{30000};   // writing one response
  std::chrono::milliseconds shutdown_grace{15000};  // then in-flight work is abandoned
  std::size_t max_connections = 10000;              // more are accepted and closed at once
};

class HttpServer {
 public:
  // Binds and listens; throws std::runtime_error naming the address when it cannot.
  HttpServer(const Router& router, Metrics& metrics, const Logger& logger, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (useful with port 0).
  std::uint16_t port() const;

  // Serves until SIGINT/SIGTERM or stop(), then drains: returns once every connection has closed
  // (or shutdown_grace has passed). With `handle_signals` false only stop() ends it.
  void run(bool handle_signals = true);

  // Starts the graceful shutdown; thread-safe, idempotent.
  void stop();

  struct Impl;  // opaque; public so that the connection class in the .cpp can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cidrot::server

#endif  // CIDROT_SERVER_HTTP_SERVER_H_
