#pragma once
// Upstream's per-key exponential back-off (client-go flowcontrol.Backoff as the kubelet uses it
// for crash loops and image pulls): the first retry is immediate, then 10 s, 20 s, ... up to
// 5 min; a key quiet for twice the maximum starts over.
#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace kcube::kubelet {

class RestartBackoff {
  public:
    using Clock = std::chrono::system_clock;
    RestartBackoff(std::chrono::seconds initial, std::chrono::seconds max)
        : initial_(initial), max_(max) {}

    // Whether `key` must still wait after an event (a container exit) at `since`; if so,
    // `remaining` is how long and `window` the current back-off (for "back-off 20s ...").
    bool in_backoff(const std::string& key, Clock::time_point since, Clock::time_point now,
                    std::chrono::seconds& window, Clock::duration& remaining);
    // Records a retry made for an event at `since`: the window doubles (or starts at initial).
    void next(const std::string& key, Clock::time_point since);
    void forget_prefix(const std::string& prefix);

  private:
    struct Entry {
        std::chrono::seconds window;
        Clock::time_point last;
    };
    std::chrono::seconds initial_, max_;
    std::mutex mutex_;
    std::map<std::string, Entry> entries_;
};

}  // namespace kcube::kubelet
