#pragma once
// The scheduler (kube-scheduler's role): binds pending pods to a node that fits them.
#include <memory>

#include "cluster/controllers/runtime/controller.hpp"

namespace kcube::scheduler {

std::unique_ptr<controllers::Controller> make_scheduler(controllers::ControllerContext& ctx);

}  // namespace kcube::scheduler
