#include "cluster/kubelet/restart_backoff.hpp"

namespace kcube::kubelet {

bool RestartBackoff::in_backoff(const std::string& key, Clock::time_point since,
                                Clock::time_point now, std::chrono::seconds& window,
                                Clock::duration& remaining) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    if (now - it->second.last > 2 * max_) {
        entries_.erase(it);
        return false;
    }
    window = it->second.window;
    const auto elapsed = now - since;
    if (elapsed >= window) return false;
    remaining = window - elapsed;
    return true;
}

void RestartBackoff::next(const std::string& key, Clock::time_point since) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end() || since - it->second.last > 2 * max_) {
        entries_[key] = Entry{initial_, since};
        return;
    }
    it->second.window = std::min(it->second.window * 2, max_);
    it->second.last = since;
}

void RestartBackoff::forget_prefix(const std::string& prefix) {
    std::lock_guard lock(mutex_);
    for (auto it = entries_.lower_bound(prefix);
         it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0;)
        it = entries_.erase(it);
}

}  // namespace kcube::kubelet
