#include "cluster/controllers/manager.hpp"

#include <spdlog/spdlog.h>

#include <vector>

#include "cluster/controllers/controllers.hpp"
#include "cluster/controllers/runtime/event_recorder.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/scheduler/scheduler.hpp"

namespace kcube::controllers {

struct ControllerManager::Impl {
    ControllerSettings settings;
    InformerSet informers;
    EventRecorder events;
    ControllerContext context;
    std::vector<std::unique_ptr<Controller>> running;

    Impl(api::ResourceService& service, ControllerSettings s)
        : settings(std::move(s)),
          informers(service),
          events(service),
          context{service, informers, events, settings} {}
};

ControllerManager::ControllerManager(api::ResourceService& service, ManagerOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options.settings))) {
    using Factory = std::unique_ptr<Controller> (*)(ControllerContext&);
    std::vector<Factory> factories;
    if (options.scheduler) factories.push_back(&scheduler::make_scheduler);
    if (options.controllers) {
        for (Factory f :
             {&make_deployment_controller, &make_replicaset_controller,
              &make_statefulset_controller, &make_daemonset_controller, &make_job_controller,
              &make_cronjob_controller, &make_garbage_collector, &make_serviceaccount_controller,
              &make_node_lifecycle_controller, &make_endpoints_controller,
              &make_endpointslice_controller, &make_endpointslice_mirroring_controller,
              &make_pv_binder_controller, &make_taint_eviction_controller}) {
            factories.push_back(f);
        }
    }
    for (Factory factory : factories) {
        if (auto controller = factory(impl_->context)) {
            impl_->running.push_back(std::move(controller));
        }
    }
}

ControllerManager::~ControllerManager() {
    for (auto& controller : impl_->running)
        controller->stop();
    impl_->informers.stop();
}

void ControllerManager::start() {
    impl_->informers.start();
    for (auto& controller : impl_->running)
        controller->start();
    spdlog::debug("{} controllers running", impl_->running.size());
}

}  // namespace kcube::controllers
