#include "cluster/controllers/controllers.hpp"

namespace kcube::controllers {

// TODO(issue 4): not written yet.
std::unique_ptr<Controller> make_garbage_collector(ControllerContext&) {
    return nullptr;
}

}  // namespace kcube::controllers
