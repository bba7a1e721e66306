// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// The HTTP API's routes (docs/http-api.md, docs/openapi.yaml): request parameters in, Rotator
// call, JSON out. Every rule lives in the library; these handlers only translate.

#ifndef CIDROT_SERVER_API_H_
#define CIDROT_SERVER_API_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "cidrot/error.h"
#include "cidrot/rotator.h"
#include "dashboard/dashboard.h"
#include "metrics.h"
#include "rate_limiter.h"
#include "router.h"
#include "write_health.h"

namespace cidrot::server {

// The status /next-cid answers when no caller-ID is available (any denial reason).
inline constexpr http::status kNoCallerIdStatus = http::status::conflict;
// /health answers 503 while the last /next-cid store failure is this recent and no call has
// succeeded since (write_health.h).
inline constexpr std::chrono::milliseconds kWriteFailureWindow{10000};
// Bodies accepted by POST /api/numbers/import.
inline constexpr std::size_t kImportBodyLimit = 16 * 1024 * 1024;

struct ApiOptions {
  std::int64_t rate_limit_per_agent = 0;  // /next-cid per agent per minute; 0 = off
};

class Api {
 public:
  Api(Rotator& rotator, ApiOptions options);

  // Adds every API route to `router`, the dashboard's last. Call before the server starts.
  void register_routes(Router& router);

  // Must be set before requests arrive (the metrics are sized from the final route table).
  void set_metrics(Metrics* metrics) { metrics_ = metrics; }

 private:
  // One /next-cid request between its parsing and its answer.
  struct NextCid {
    bool text = false;  // format=text
    CallRequest req;
    std::string key;  // its rate-limit key ("" when the limiter is off)
  };
  void next_cid(Context& c);
  void next_cid_batch(Context* const* contexts, std::size_t count, std::exception_ptr* errors);
  // Parses c's parameters into *n and applies the rate limit: false when c's answer is final
  // already (429). Throws Error for bad input (n->text is set once the format is known).
  bool next_cid_begin(Context& c, NextCid* n);
  // The Error to answer for what the Rotator threw for n (refunds a rejected request's budget).
  Error next_cid_rotator_error(const NextCid& n, const Error& e);
  void next_cid_answer(Context& c, const NextCid& n, const LeaseResult& result,
                       std::chrono::steady_clock::time_point t0,
                       std::chrono::steady_clock::time_point t1);
  void next_cid_text_error(Context& c, const Error& e);
  void release(Context& c);
  void add_number(Context& c);
  void delete_reservation(Context& c);
  void list_reservations(Context& c);
  void list_numbers(Context& c);
  void get_number(Context& c);
  void patch_number(Context& c);
  void delete_number(Context& c);
  void import_numbers(Context& c);
  void stats(Context& c);
  void health(Context& c);
  void metrics(Context& c);

  Rotator& rot_;
  ApiOptions options_;
  RateLimiter limiter_;
  WriteHealth writes_;
  Metrics* metrics_ = nullptr;
  dashboard::Dashboard dashboard_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace cidrot::server

#endif  // CIDROT_SERVER_API_H_
