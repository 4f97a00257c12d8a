#pragma once
// Records core/v1 Events about objects ("Scheduled", "SuccessfulCreate", ...) as upstream's
// components do: one Event per distinct (object, type, reason, message), whose count and
// lastTimestamp grow when it repeats. Writing happens on a thread of its own so a controller
// never waits for an event to be stored.
#include <boost/json/object.hpp>
#include <memory>
#include <string>

namespace kcube::api {
class ResourceService;
}

namespace kcube::controllers {

class EventRecorder {
  public:
    explicit EventRecorder(api::ResourceService& service);
    ~EventRecorder();
    EventRecorder(const EventRecorder&) = delete;
    EventRecorder& operator=(const EventRecorder&) = delete;

    // `involved` is the object the event is about (with apiVersion and kind, as informers give
    // them); `type` is "Normal" or "Warning"; `component` e.g. "default-scheduler".
    // `field_path` names a part of it, e.g. "spec.containers{web}" for a container's events.
    void record(const boost::json::object& involved, const std::string& component,
                const std::string& type, const std::string& reason, const std::string& message,
                const std::string& field_path = {});
    // Waits until everything recorded so far is written (tests, shutdown).
    void flush();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kcube::controllers
