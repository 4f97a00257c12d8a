#include "cluster/scheduler/scheduler.hpp"

namespace kcube::scheduler {

// TODO(issue 4): not written yet.
std::unique_ptr<controllers::Controller> make_scheduler(controllers::ControllerContext&) {
    return nullptr;
}

}  // namespace kcube::scheduler
