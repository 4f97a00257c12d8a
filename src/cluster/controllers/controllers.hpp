#pragma once
// The node's controllers (kube-controller-manager's role), one file each. Each factory builds a
// controller that registers its informer handlers on ctx.informers; the ControllerManager
// starts them once the informers are warm.
#include <memory>

#include "cluster/controllers/runtime/controller.hpp"

namespace kcube::controllers {

std::unique_ptr<Controller> make_deployment_controller(ControllerContext& ctx);
std::unique_ptr<Controller> make_replicaset_controller(ControllerContext& ctx);
std::unique_ptr<Controller> make_statefulset_controller(ControllerContext& ctx);
std::unique_ptr<Controller> make_daemonset_controller(ControllerContext& ctx);
std::unique_ptr<Controller> make_job_controller(ControllerContext& ctx);
std::unique_ptr<Controller> make_cronjob_controller(ControllerContext& ctx);
std::unique_ptr<Controller> make_garbage_collector(ControllerContext& ctx);
std::unique_ptr<Controller> make_serviceaccount_controller(ControllerContext& ctx);
std::unique_ptr<Controller> make_node_lifecycle_controller(ControllerContext& ctx);
std::unique_ptr<Controller> make_endpoints_controller(ControllerContext& ctx);
std::unique_ptr<Controller> make_endpointslice_controller(ControllerContext& ctx);
std::unique_ptr<Controller> make_endpointslice_mirroring_controller(ControllerContext& ctx);
std::unique_ptr<Controller> make_pv_binder_controller(ControllerContext& ctx);
std::unique_ptr<Controller> make_taint_eviction_controller(ControllerContext& ctx);

}  // namespace kcube::controllers
