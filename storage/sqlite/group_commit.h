// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
// Private to the SQLite backend: group commit. One caller thread at a time owns the write
// connection and runs every pending write of this process in one BEGIN IMMEDIATE..COMMIT, then
// answers each caller with its own result (a flag its caller spins on, or a wake-up if it went to
// sleep). The commit (and its fsync under synchronous=FULL) is paid once per batch; a failing job
// is undone alone (see run_batch).
#ifndef CIDROT_STORAGE_SQLITE_GROUP_COMMIT_H_
#define CIDROT_STORAGE_SQLITE_GROUP_COMMIT_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
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

// The caller threads take turns as the batch's leader (no writer thread): the first caller that
// finds no batch running takes every queued job, runs them in its own thread, answers them, and
// the next waiting caller whose job is still queued leads the next batch. A lone caller therefore
// runs its transaction straight away, like a plain SQLite loop, and concurrent callers share one
// commit without a hand-off to another thread (each hand-off costs a scheduler wake-up, which on
// a busy machine is longer than the transaction). A leader whose batch is done runs the jobs
// queued meanwhile too, for up to kLeadRounds batches: handing over would put a sleeping caller
// on the critical path, while the callers it just answered queue their next jobs on other cores.
template <class Conn>
class GroupCommit {
 public:
  // `target` and `conn` are used by the current leader only, for the object's life.
  GroupCommit(BatchTarget* target, Conn* conn, std::chrono::milliseconds queue_timeout,
              std::size_t max_batch = 256)
      : target_(target), conn_(conn), queue_timeout_(queue_timeout), max_batch_(max_batch) {}
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
    const auto deadline = std::chrono::steady_clock::now() + queue_timeout_;
    std::unique_lock<std::mutex> lock(mu_);
    Job& job = acquire();
    job.first = first;
    job.fn = [&](Conn& c) { result.emplace(fn(c)); };
    queue_.push_back(&job);
    while (!job.done) {
      if (job.state == kQueued && !leading_) {
        lead(lock);
        continue;
      }
      // Its batch is running, or another leader's is. A batch is over in tens of microseconds,
      // about what waking a sleeping thread costs the leader (a futex wake and, on an idle
      // core, an inter-processor interrupt), so spin first, yielding the CPU; then sleep.
      job.signalled.store(false, std::memory_order_relaxed);
      lock.unlock();
      spin_until([&job] { return job.signalled.load(std::memory_order_acquire); });
      lock.lock();
      if (job.done || (job.state == kQueued && !leading_)) continue;
      job.sleeping = true;
      if (job.state == kTaken) {
        job.cv.wait(lock);
      } else if (job.cv.wait_until(lock, deadline) == std::cv_status::timeout &&
                 job.state == kQueued) {
        // Not taken by a batch yet: withdraw it, so a caller that gave up never gets a lease.
        queue_.erase(std::find(queue_.begin(), queue_.end(), &job));
        give_back(job);
        throw Error(ErrorCode::kBackendUnavailable,
                    "sqlite: the database stayed locked longer than busy_timeout_ms");
      }
      job.sleeping = false;
    }
    std::exception_ptr error = std::move(job.error);
    give_back(job);
    lock.unlock();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  }

 private:
  enum { kQueued = 0, kTaken = 1 };
  static constexpr int kLeadRounds = 4;
  // A waiting caller yields the CPU in a loop for up to kMaxSpin before it sleeps, and sleeps
  // at once when yields come back slowly (kSlowYields of them took kSlowYield or more): other
  // threads want the cores then, and the spin would take their time (RocksDB's write thread
  // waits the same way).
  static constexpr std::chrono::microseconds kMaxSpin{200};
  static constexpr std::chrono::microseconds kSlowYield{3};
  static constexpr int kSlowYields = 3;
  // A job slot. Slots are owned by the GroupCommit and reused, never freed while it lives: a
  // leader signals a slot's cv after releasing mu_ (so that the woken caller does not block
  // again on mu_), when the caller may already have returned; the signal is then a spurious
  // wake-up of the slot's next user, which re-checks its job like any waiter.
  struct Job {
    std::function<void(Conn&)> fn;
    int state = kQueued;  // guarded by mu_, as every field
    bool done = false;
    bool first = false;
    bool sleeping = false;  // its caller waits on cv (and must be notified)
    // Set with mu_ held when the job is done or its caller should lead; read without mu_ by a
    // spinning caller.
    std::atomic<bool> signalled{false};
    std::exception_ptr error;
    // Each caller sleeps on its own job, so that a batch wakes the callers it answered and the
    // next leader, not every waiting caller (each wake-up is a context switch on a busy box).
    std::condition_variable cv;
  };

  // Called with mu_ held.
  Job& acquire() {
    if (free_.empty()) {
      slots_.push_back(std::make_unique<Job>());
      return *slots_.back();
    }
    Job* j = free_.back();
    free_.pop_back();
    return *j;
  }
  void give_back(Job& j) {
    j.fn = nullptr;
    j.state = kQueued;
    j.done = false;
    j.first = false;
    j.sleeping = false;
    j.error = nullptr;
    free_.push_back(&j);
  }

  // Returns ready() once it is true, or false when the spin budget is spent first.
  template <class Ready>
  static bool spin_until(Ready ready) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    int slow = 0;
    while (!ready()) {
      const auto before = Clock::now();
      if (before - start >= kMaxSpin) return false;
      std::this_thread::yield();
      if (Clock::now() - before >= kSlowYield && ++slow >= kSlowYields) return ready();
    }
    return true;
  }

  // Tells the caller of `j` (with mu_ held) that its job is done or that it should lead; returns
  // whether the caller sleeps, to be notified.
  static bool signal(Job* j) {
    j->signalled.store(true, std::memory_order_release);
    return j->sleeping;
  }

  // Called with `lock` held and no batch running: runs batches of the queued jobs (lead_one),
  // waking the callers of each, then wakes the caller of the oldest queued job (it leads next).
  void lead(std::unique_lock<std::mutex>& lock) {
    leading_ = true;
    std::vector<Job*> answered;
    for (int round = 0; round < kLeadRounds && !queue_.empty(); ++round) {
      lead_one(lock, &answered);
      // Wake the callers without holding mu_, so that they do not block on it again at once.
      lock.unlock();
      for (Job* j : answered) j->cv.notify_one();
      lock.lock();
    }
    leading_ = false;
    if (!queue_.empty() && signal(queue_.front())) queue_.front()->cv.notify_one();
  }

  // One batch: takes the queued jobs, runs them without the lock, marks them done (signalled)
  // and lists those whose callers sleep in `answered`, to be woken by the caller. Jobs are
  // touched under the lock only.
  void lead_one(std::unique_lock<std::mutex>& lock, std::vector<Job*>* answered) {
    for (int i = 0; i < 3 && last_batch_ > 1 && queue_.size() < last_batch_; ++i) {
      // The callers answered by the last batch are about to send their next requests: let them
      // queue before taking the batch, or a fast caller leads a batch of one and the others
      // follow alone (each batch pays its own commit and writes its own pages).
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
    }
    std::vector<Job*> batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      Job* j = queue_.front();
      queue_.pop_front();
      j->state = kTaken;
      batch.push_back(j);
    }
    lock.unlock();
    std::stable_partition(batch.begin(), batch.end(), [](const Job* j) { return j->first; });
    run_batch(batch);
    lock.lock();
    last_batch_ = batch.size();
    answered->clear();
    for (Job* j : batch) {
      j->done = true;
      if (signal(j)) answered->push_back(j);
    }
  }

  // Runs the batch in one transaction. A job that throws is rolled back together with the whole
  // transaction, gets its error, and the others run again in a fresh transaction: they had not
  // returned yet, so running them again is invisible to their callers. (Savepoints per job would
  // avoid the re-run, but make every commit scan SQLite's page cache.)
  void run_batch(const std::vector<Job*>& batch) {
    std::vector<Job*> pending = batch;
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
    if (batch_error) {
      for (Job* j : batch) {
        if (!j->error) j->error = batch_error;
      }
    }
  }

  BatchTarget* target_;
  Conn* conn_;
  const std::chrono::milliseconds queue_timeout_;
  const std::size_t max_batch_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Job>> slots_;  // every slot, for the object's life
  std::vector<Job*> free_;                   // slots no caller holds
  std::deque<Job*> queue_;
  bool leading_ = false;
  std::size_t last_batch_ = 0;
};

}  // namespace cidrot::storage::sqlite

#endif  // CIDROT_STORAGE_SQLITE_GROUP_COMMIT_H_
