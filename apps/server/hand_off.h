// Copyright (c) libcidrot authors. SPDX-License-Identifier: MIT
//
// HandOff: the store worker pool of cidrot-server. The I/O thread push()es jobs; worker threads
// run them. Built so that a busy server hands work over without a thread wake-up per request:
//
// - push() wakes a sleeping worker only when no worker is awake, or when jobs are slow (a store
//   whose calls block, such as SQLite, gets as many callers at once as there are jobs and
//   workers), or when the oldest queued job has waited longer than `scale_after`; otherwise the
//   job waits for a worker that is already running;
// - one worker that finds the queue empty spins briefly (yielding the core) before it sleeps, so
//   a steady stream of requests finds it awake;
// - one sleeping worker polls (every standby_poll while work is in progress), so a job stuck
//   behind a long store call is taken up within milliseconds even if nothing else comes.
//
// Jobs run in FIFO order of take-up (not of completion: several workers run at once). Jobs the
// `batchable` predicate accepts are taken up together: a worker takes every such job queued (up
// to max_batch) and runs them with one call of `run_batch`. One batch runs at a time. With two
// workers or more, the first one is the batch lane: it runs every batch and nothing else, so the
// store's write path stays on one thread (and its caches), and the others take the other jobs.

#ifndef CIDROT_SERVER_HAND_OFF_H_
#define CIDROT_SERVER_HAND_OFF_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "thread_name.h"

namespace cidrot::server {

struct HandOffOptions {
  int threads = 8;
  std::chrono::microseconds spin{50};  // look for work this long before sleeping
  // A job waiting longer wakes another worker. Long enough that a worker merely preempted on a
  // busy machine does not wake the rest.
  std::chrono::microseconds scale_after{1000};
  std::chrono::microseconds standby_poll{2000};  // see HandOff::sleep()
  // When most jobs take longer than this (wall time), each is worth a thread of its own: under
  // load memory:// leases take ~5 us (some far longer when preempted), SQLite's ~800 us.
  std::chrono::microseconds slow_job{100};
  std::size_t max_batch = 64;  // jobs run_batch gets at most
};

template <class Job>
class HandOff {
 public:
  using Clock = std::chrono::steady_clock;

  // `run` is called on a worker thread for every job, or `run_batch` for several batchable jobs
  // (when both `batchable` and `run_batch` are given); neither may throw. `batchable` is called
  // with the queue's lock held: it must be cheap and must not call back into this object.
  HandOff(HandOffOptions options, std::function<void(Job&)> run,
          std::function<bool(const Job&)> batchable = nullptr,
          std::function<void(std::vector<Job>&)> run_batch = nullptr)
      : options_(options),
        run_(std::move(run)),
        batchable_(std::move(batchable)),
        run_batch_(std::move(run_batch)) {
    const int n = std::max(1, options_.threads);
    lane_ = batchable_ && run_batch_ && options_.max_batch > 1 && n >= 2;
    // Workers start awake and go to sleep once they find nothing to do.
    running_ = lane_ ? n - 1 : n;
    threads_.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, lane = lane_ && i == 0] {
        name_this_thread("cidrot-store");
        if (lane) {
          work_batches();
        } else {
          work();
        }
      });
    }
  }
  ~HandOff() { join(); }
  HandOff(const HandOff&) = delete;
  HandOff& operator=(const HandOff&) = delete;

  void push(Job job) {
    bool wake, wake_lane = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto now = Clock::now();
      const bool batched = batches(job);
      queue_.push_back(Entry{std::move(job), now, batched});
      if (batched) {
        batched_.fetch_add(1, std::memory_order_relaxed);
        wake_lane = lane_ && lane_sleeping_;
      } else {
        ++unbatched_;
      }
      queued_.store(queue_.size(), std::memory_order_relaxed);
      wake = should_wake(now);
      if (wake) grant_wake();
    }
    if (wake) cv_.notify_one();
    if (wake_lane) lane_cv_.notify_one();
  }

  // Runs what is queued, then stops the workers and waits for them. Idempotent.
  void join() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    lane_cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  // True when most recent jobs took longer than `slow_job` (a blocking store). Any thread.
  bool jobs_are_slow() const { return slow_share_.load(std::memory_order_relaxed) > kShareOne / 2; }

  // Worker wake-ups so far (for tests and benchmarks: ideally far fewer than jobs under load).
  std::size_t wakes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return wakes_;
  }

 private:
  struct Entry {
    Job job;
    Clock::time_point queued_at;
    bool batched;  // taken up in a batch (run_batch)
  };

  bool batches(const Job& job) const {
    return batchable_ && run_batch_ && options_.max_batch > 1 && batchable_(job);
  }

  // Called with mu_ held: the queued jobs an idle (general) worker may take now. With a batch
  // lane, batchable jobs are the lane's. Without one there is a single worker, or nothing is
  // batchable: batches run one at a time either way.
  std::size_t takeable() const { return lane_ ? unbatched_ : queue_.size(); }

  // Called with mu_ held and takeable() > 0: the position in queue_ of the oldest job an idle
  // (general) worker may take; with a lane, the oldest unbatched one. Its age, not that of a
  // batchable job the lane will take, decides whether to wake or add a general worker.
  std::size_t oldest_takeable() const {
    if (!lane_) return 0;
    const auto it =
        std::find_if(queue_.begin(), queue_.end(), [](const Entry& e) { return !e.batched; });
    return static_cast<std::size_t>(it - queue_.begin());
  }

  // Called with mu_ held: moves every queued batchable job, wherever it is (they come from
  // different connections, so their order does not matter), up to max_batch, into `batch`.
  void take_batch(std::vector<Job>* batch) {
    batch->clear();
    for (auto it = queue_.begin(); it != queue_.end() && batch->size() < options_.max_batch;) {
      if (it->batched) {
        batch->push_back(std::move(it->job));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    batched_.fetch_sub(batch->size(), std::memory_order_relaxed);
    queued_.store(queue_.size(), std::memory_order_relaxed);
  }

  // Called with mu_ held after a job ran for `took`.
  void count_job(Clock::duration took) {
    // The share of recent jobs that were slow, not their mean time: on a busy machine a fast
    // job is sometimes preempted for milliseconds, which would drag a mean up, but only a
    // store that blocks makes most of its calls slow.
    const int share = slow_share_.load(std::memory_order_relaxed);
    slow_share_.store(share + ((took > options_.slow_job ? kShareOne : 0) - share) / 16,
                      std::memory_order_relaxed);
  }

  // The batch lane's worker: runs every batch, one at a time, on this one thread, so that the
  // store's write path (SQLite's writer and its in-memory indexes) stays hot in one core's
  // caches instead of moving between whichever workers happen to be awake.
  void work_batches() {
    std::vector<Job> batch;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (batched_.load(std::memory_order_relaxed) > 0) {
        take_batch(&batch);
        lock.unlock();
        const auto started = Clock::now();
        run_batch_(batch);
        batch.clear();  // drops what the jobs hold before the worker sleeps
        const auto took = Clock::now() - started;
        lock.lock();
        count_job(took);
        continue;
      }
      if (stopping_) break;
      if (options_.spin.count() > 0) {
        lock.unlock();
        const auto until = Clock::now() + options_.spin;
        while (batched_.load(std::memory_order_relaxed) == 0 && Clock::now() < until) {
          std::this_thread::yield();
        }
        lock.lock();
        if (batched_.load(std::memory_order_relaxed) > 0 || stopping_) continue;
      }
      lane_sleeping_ = true;
      lane_cv_.wait(lock,
                    [this] { return batched_.load(std::memory_order_relaxed) > 0 || stopping_; });
      lane_sleeping_ = false;
    }
  }

  // Called with mu_ held, after a push or a take.
  bool should_wake(Clock::time_point now) const {
    const std::size_t n = takeable();
    if (sleeping_ == 0 || n == 0) return false;
    if (running_ == 0) return true;
    // Jobs that block (SQLite's lease waits for its turn to commit, and commits the leases of
    // every caller waiting together): each queued job that no awake worker is free to take gets
    // a worker of its own, at once.
    if (jobs_are_slow() && n > static_cast<std::size_t>(running_ - busy_)) return true;
    return now - queue_[oldest_takeable()].queued_at > options_.scale_after;
  }

  // Called with mu_ held: one sleeper becomes running (before it actually wakes, so that the
  // next push() does not wake a second one for the same job).
  void grant_wake() {
    --sleeping_;
    ++running_;
    ++tokens_;
    ++wakes_;
  }

  void work() {
    std::vector<Job> batch;  // this worker's, reused
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (takeable() > 0) {
        const auto next = queue_.begin() + static_cast<std::ptrdiff_t>(oldest_takeable());
        const bool as_batch = next->batched;
        Job job;
        if (as_batch) {
          take_batch(&batch);
        } else {
          job = std::move(next->job);
          queue_.erase(next);
          --unbatched_;
          queued_.store(queue_.size(), std::memory_order_relaxed);
        }
        ++busy_;
        // Work still waiting behind this one: a blocking store may need more hands.
        const bool wake = should_wake(Clock::now());
        if (wake) grant_wake();
        lock.unlock();
        if (wake) cv_.notify_one();
        const auto started = Clock::now();
        if (as_batch) {
          run_batch_(batch);
          batch.clear();  // drops what the jobs hold before the worker sleeps
        } else {
          run_(job);
          job = Job();
        }
        const auto took = Clock::now() - started;
        lock.lock();
        --busy_;
        count_job(took);
        continue;
      }
      if (stopping_) break;
      if (!spinning_ && options_.spin.count() > 0) {
        // One worker spins (with yields, so a thread sharing this core runs first): that costs
        // less than the futex wake-up and context switch a sleep would cost the next push().
        // More spinners would only take the cores from the I/O thread and the clients.
        spinning_ = true;
        lock.unlock();
        const auto until = Clock::now() + options_.spin;
        while (Clock::now() < until) {
          // Racy counts; what it finds is checked under the lock.
          std::size_t n = queued_.load(std::memory_order_relaxed);
          if (lane_) n -= std::min(n, batched_.load(std::memory_order_relaxed));
          if (n > 0) break;
          std::this_thread::yield();
        }
        lock.lock();
        spinning_ = false;
        if (takeable() > 0 || stopping_) continue;
      }
      sleep(lock);
    }
  }

  // Returns running (counted in running_). push() moves a sleeper back to running_ and leaves a
  // token; the token, not the notification, ends the wait, so spurious wake-ups change nothing.
  void sleep(std::unique_lock<std::mutex>& lock) {
    --running_;
    ++sleeping_;
    for (;;) {
      if (tokens_ > 0) {
        --tokens_;
        break;
      }
      if (stopping_) {
        --sleeping_;
        ++running_;
        break;
      }
      if (standby_) {
        cv_.wait(lock);
        continue;
      }
      // The standby: push() wakes nobody while a worker is running, so a job queued behind a
      // long store call (an import) with no push after it would wait for that call to end. One
      // sleeper looks again now and then, often while work is in progress, rarely when idle.
      standby_ = true;
      const bool active = busy_ > 0 || !queue_.empty();
      cv_.wait_for(lock, active ? options_.standby_poll : options_.standby_poll * 50);
      standby_ = false;
      if (tokens_ == 0 && takeable() > 0 &&
          Clock::now() - queue_[oldest_takeable()].queued_at > options_.scale_after) {
        --sleeping_;
        ++running_;
        ++wakes_;
        break;
      }
    }
    // Leaving with nobody on standby (this thread may have been it): one sleeper takes the role.
    if (!standby_ && sleeping_ > 0 && !stopping_) cv_.notify_one();
  }

  HandOffOptions options_;
  std::function<void(Job&)> run_;
  std::function<bool(const Job&)> batchable_;
  std::function<void(std::vector<Job>&)> run_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry> queue_;
  std::atomic<std::size_t> queued_{0};
  int running_ = 0;
  int sleeping_ = 0;
  int tokens_ = 0;
  int busy_ = 0;                         // running a job
  std::size_t unbatched_ = 0;            // queued jobs not taken up in batches
  std::atomic<std::size_t> batched_{0};  // queued jobs taken up in batches
  // With batchable jobs and two workers or more, the first worker runs every batch (and nothing
  // else) and sleeps on lane_cv_; the others run the other jobs.
  bool lane_ = false;
  bool lane_sleeping_ = false;
  std::condition_variable lane_cv_;
  static constexpr int kShareOne = 1 << 16;
  std::atomic<int> slow_share_{
      0};                  // of the recent jobs, the share slower than slow_job, in 1/kShareOne
  bool standby_ = false;   // a sleeper is polling (sleep())
  bool spinning_ = false;  // a worker is looking for work before it sleeps
  std::size_t wakes_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cidrot::server

#endif  // CIDROT_SERVER_HAND_OFF_H_
