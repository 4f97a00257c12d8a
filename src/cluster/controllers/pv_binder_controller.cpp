#include "cluster/controllers/controllers.hpp"

namespace kcube::controllers {

// TODO(issue 4): not written yet.
std::unique_ptr<Controller> make_pv_binder_controller(ControllerContext&) {
    return nullptr;
}

}  // namespace kcube::controllers
