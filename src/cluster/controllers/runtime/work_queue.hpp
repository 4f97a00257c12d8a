#pragma once
// A controller's queue of object keys ("namespace/name"), with client-go's semantics: a key is
// queued at most once, a key being processed is not handed to a second worker (it is queued
// again after done() if it changed meanwhile), delayed adds, and per-key exponential back-off
// for failures.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>

namespace kcube::controllers {

class WorkQueue {
  public:
    using Clock = std::chrono::steady_clock;

    struct BackOff {
        std::chrono::milliseconds base{5};
        std::chrono::milliseconds max{60'000};
    };
    WorkQueue() = default;
    explicit WorkQueue(BackOff backoff) : backoff_(backoff) {}

    void add(const std::string& key);
    void add_after(const std::string& key, Clock::duration delay);
    // After a failure: again after base * 2^failures (capped).
    void add_rate_limited(const std::string& key);
    // After a success: the key's failure count starts over.
    void forget(const std::string& key);
    int failures(const std::string& key) const;

    // The next key to process; blocks until there is one, or nullopt once shut down or stop
    // is requested. Every key returned must be handed back with done().
    std::optional<std::string> get(std::stop_token stop);
    void done(const std::string& key);
    void shut_down();
    std::size_t size() const;

  private:
    void add_locked(const std::string& key);

    BackOff backoff_;
    mutable std::mutex mutex_;
    std::condition_variable_any wake_;
    std::deque<std::string> queue_;
    std::set<std::string> dirty_;       // queued, or to queue again after processing
    std::set<std::string> processing_;  // handed out, not yet done
    std::multimap<Clock::time_point, std::string> waiting_;  // delayed adds by due time
    std::map<std::string, int> failures_;
    std::uint64_t changes_ = 0;  // bumped on every add, so waiting workers re-check
    bool shut_down_ = false;
};

}  // namespace kcube::controllers
