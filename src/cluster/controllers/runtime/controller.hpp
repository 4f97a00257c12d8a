#pragma once
// The shape of every controller: informer handlers queue object keys, one worker thread takes
// them off the queue and reconciles, and a failed reconcile is retried with back-off. Nothing
// polls; timed work (deadlines, back-off, schedules) is a delayed add to the queue.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "cluster/controllers/runtime/work_queue.hpp"

namespace kcube::api {
class ResourceService;
}

namespace kcube::controllers {

class InformerSet;
class EventRecorder;

// The field manager every controller writes as (upstream's kube-controller-manager name), so
// managedFields read as they do on upstream.
inline constexpr const char* kControllerFieldManager = "kube-controller-manager";

// Cluster-wide facts and tunables the controllers need.
struct ControllerSettings {
    // The cluster CA certificate (PEM): the kube-root-ca.crt ConfigMap in every namespace.
    std::string root_ca_pem;
    // How long a node's Lease may go unrenewed before the node is marked NotReady.
    std::chrono::seconds node_monitor_grace_period{40};
};

// What a controller gets to work with.
struct ControllerContext {
    api::ResourceService& service;
    InformerSet& informers;
    EventRecorder& events;
    const ControllerSettings& settings;
};

class Controller {
  public:
    explicit Controller(std::string name);
    virtual ~Controller();
    Controller(const Controller&) = delete;
    Controller& operator=(const Controller&) = delete;

    const std::string& name() const { return name_; }
    // Starts the worker; the informers must have been started (caches warm).
    void start();
    // Stops and joins the worker. The owner calls this before destroying the controller, so
    // that no reconcile runs on a half-destroyed object.
    void stop();

  protected:
    // Brings the object with this key to its desired state. Throwing retries it with back-off
    // (a 409 Conflict quietly: the cache was behind).
    virtual void reconcile(const std::string& key) = 0;
    WorkQueue& queue() { return queue_; }

  private:
    void work(std::stop_token stop);

    std::string name_;
    WorkQueue queue_;
    std::jthread worker_;
};

}  // namespace kcube::controllers
