#include "cluster/controllers/runtime/work_queue.hpp"

#include <algorithm>

namespace kcube::controllers {

void WorkQueue::add_locked(const std::string& key) {
    if (shut_down_ || dirty_.contains(key)) return;
    dirty_.insert(key);
    if (processing_.contains(key)) return;  // done() queues it again
    queue_.push_back(key);
    ++changes_;
    wake_.notify_all();
}

void WorkQueue::add(const std::string& key) {
    std::lock_guard lock(mutex_);
    add_locked(key);
}

void WorkQueue::add_after(const std::string& key, Clock::duration delay) {
    if (delay <= Clock::duration::zero()) return add(key);
    std::lock_guard lock(mutex_);
    if (shut_down_) return;
    const auto due = Clock::now() + delay;
    // One pending delayed add per key is enough: keep the earliest.
    for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
        if (it->second != key) continue;
        if (it->first <= due) return;
        waiting_.erase(it);
        break;
    }
    waiting_.emplace(due, key);
    ++changes_;
    wake_.notify_all();
}

void WorkQueue::add_rate_limited(const std::string& key) {
    int exponent = 0;
    {
        std::lock_guard lock(mutex_);
        exponent = failures_[key]++;
    }
    auto delay = backoff_.base * (std::int64_t{1} << std::min(exponent, 30));
    add_after(key, std::min<std::chrono::milliseconds>(delay, backoff_.max));
}

void WorkQueue::forget(const std::string& key) {
    std::lock_guard lock(mutex_);
    failures_.erase(key);
}

int WorkQueue::failures(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = failures_.find(key);
    return it == failures_.end() ? 0 : it->second;
}

std::optional<std::string> WorkQueue::get(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    while (!shut_down_ && !stop.stop_requested()) {
        const auto now = Clock::now();
        while (!waiting_.empty() && waiting_.begin()->first <= now) {
            std::string key = waiting_.begin()->second;
            waiting_.erase(waiting_.begin());
            add_locked(key);
        }
        if (!queue_.empty()) {
            std::string key = std::move(queue_.front());
            queue_.pop_front();
            dirty_.erase(key);
            processing_.insert(key);
            return key;
        }
        // Any add (immediate or delayed) bumps `changes_`, so an earlier due time is noticed.
        const std::uint64_t seen = changes_;
        auto changed = [&] { return shut_down_ || changes_ != seen; };
        if (waiting_.empty()) {
            wake_.wait(lock, stop, changed);
        } else {
            wake_.wait_until(lock, stop, waiting_.begin()->first, changed);
        }
    }
    return std::nullopt;
}

void WorkQueue::done(const std::string& key) {
    std::lock_guard lock(mutex_);
    processing_.erase(key);
    if (dirty_.contains(key)) {
        queue_.push_back(key);
        ++changes_;
        wake_.notify_all();
    }
}

void WorkQueue::shut_down() {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
    wake_.notify_all();
}

std::size_t WorkQueue::size() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

}  // namespace kcube::controllers
