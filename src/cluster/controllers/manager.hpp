#pragma once
// Runs the scheduler and the controllers over one set of shared informers, in process, on the
// node's ResourceService. `kcube node run --disable controllers,scheduler` leaves them off.
#include <memory>

#include "cluster/controllers/runtime/controller.hpp"

namespace kcube::controllers {

struct ManagerOptions {
    bool controllers = true;
    bool scheduler = true;
    ControllerSettings settings;
};

class ControllerManager {
  public:
    ControllerManager(api::ResourceService& service, ManagerOptions options);
    ~ControllerManager();  // stops every controller, then the informers
    ControllerManager(const ControllerManager&) = delete;
    ControllerManager& operator=(const ControllerManager&) = delete;

    void start();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kcube::controllers
