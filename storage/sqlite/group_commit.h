// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private to the SQLite backend: group commit. One writer thread owns the write connection and
// runs every pending write of this process in one BEGIN IMMEDIATE..COMMIT, then wakes each
// caller with its own result. The commit (and its fsync under synchronous=FULL) is paid once per
// batch; a failing job is undone alone (see run_batch).
#ifndef CIDROT_STORAGE_SQLITE_GROUP_COMMIT_H_
#define CIDROT_STORAGE_SQLITE_GROUP_COMMIT_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "cidrot/error.h"

namespace cidrot::storage::sqlite {

// What a batch needs from the connection it runs on. Implemented by the store's writer.
class BatchTarget {
 public:
  virtual ~BatchTarget() = default;
  virtual void begin() = 0;              // BEGIN IMMEDIATE (+ per-transaction reads)
  virtual void commit() = 0;             // COMMIT
  virtual void rollback() noexcept = 0;  // ROLLBACK if a transaction is open
  // Turns any exception from the methods above or from a job into the one callers see.
  virtual std::exception_ptr translate(std::exception_ptr e) noexcept = 0;
};

template <class Conn>
class GroupCommit {
 public:
  // `target` and `conn` are used by the writer thread only, for the object's life.
  GroupCommit(BatchTarget* target, Conn* conn, std::chrono::milliseconds queue_timeout,
              std::size_t max_batch = 256)
      : target_(target), conn_(conn), queue_timeout_(queue_timeout), max_batch_(max_batch) {
    thread_ = std::thread([this] { loop(); });
  }
  ~GroupCommit() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Runs fn(conn) inside the next batch's transaction and returns its result once that
  // transaction committed. Throws what fn threw (its changes undone), or Error when the batch
  // could not commit (nothing of fn persisted), or Error(kBackendUnavailable) when the job could
  // not start within the queue timeout (it never runs then).
  // `first`: run before the batch's other jobs. The jobs of one batch are all concurrent (none
  // has returned), so any order is a valid serialisation; releases go first so that leases in
  // the same batch can already have the numbers they free.
  template <class F>
  auto run(F&& fn, bool first = false) -> decltype(fn(std::declval<Conn&>())) {
    using R = decltype(fn(std::declval<Conn&>()));
    std::optional<R> result;
    auto job = std::make_shared<Job>();
    job->first = first;
    job->fn = [&](Conn& c) { result.emplace(fn(c)); };
    std::future<void> done = job->done.get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(job);
    }
    cv_.notify_one();
    if (done.wait_for(queue_timeout_) != std::future_status::ready) {
      int expected = kQueued;
      // Not taken by a batch yet: withdraw it, so a caller that gave up never gets a lease later.
      if (job->state.compare_exchange_strong(expected, kCancelled)) {
        throw Error(ErrorCode::kBackendUnavailable,
                    "sqlite: the database stayed locked longer than busy_timeout_ms");
      }
    }
    done.get();  // rethrows the job's error
    return std::move(*result);
  }

 private:
  enum { kQueued = 0, kTaken = 1, kCancelled = 2 };
  struct Job {
    std::function<void(Conn&)> fn;
    std::promise<void> done;
    std::atomic<int> state{kQueued};
    bool first = false;
    std::exception_ptr error;
  };
  using JobPtr = std::shared_ptr<Job>;

  void loop() {
    std::vector<JobPtr> batch;
    for (;;) {
      batch.clear();
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stop_ and drained
        while (!queue_.empty() && batch.size() < max_batch_) {
          JobPtr j = std::move(queue_.front());
          queue_.pop_front();
          int expected = kQueued;
          if (j->state.compare_exchange_strong(expected, kTaken)) batch.push_back(std::move(j));
        }
      }
      std::stable_partition(batch.begin(), batch.end(), [](const JobPtr& j) { return j->first; });
      if (!batch.empty()) run_batch(batch);
    }
  }

  // Runs the batch in one transaction. A job that throws is rolled back together with the whole
  // transaction, gets its error, and the others run again in a fresh transaction: they had not
  // returned yet, so running them again is invisible to their callers. (Savepoints per job would
  // avoid the re-run, but make every commit scan SQLite's page cache.)
  void run_batch(std::vector<JobPtr>& batch) {
    std::vector<Job*> pending;
    for (JobPtr& j : batch) pending.push_back(j.get());
    std::exception_ptr batch_error;
    while (!pending.empty() && !batch_error) {
      std::size_t failed = pending.size();
      try {
        target_->begin();
        for (std::size_t i = 0; i < pending.size(); ++i) {
          try {
            pending[i]->fn(*conn_);
          } catch (...) {
            pending[i]->error = target_->translate(std::current_exception());
            failed = i;
            break;
          }
        }
        if (failed == pending.size()) {
          target_->commit();
          break;
        }
        target_->rollback();
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(failed));
      } catch (...) {
        batch_error = target_->translate(std::current_exception());
        target_->rollback();
      }
    }
    for (JobPtr& j : batch) {
      std::exception_ptr e = j->error ? j->error : batch_error;
      if (e) {
        j->done.set_exception(e);
      } else {
        j->done.set_value();
      }
    }
  }

  BatchTarget* target_;
  Conn* conn_;
  const std::chrono::milliseconds queue_timeout_;
  const std::size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<JobPtr> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace cidrot::storage::sqlite

#endif  // CIDROT_STORAGE_SQLITE_GROUP_COMMIT_H_
