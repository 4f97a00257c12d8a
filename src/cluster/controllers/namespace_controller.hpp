#pragma once
// Finishes namespace deletion: when a Namespace is terminating, deletes everything in it, then
// removes the "kubernetes" finalizer so the Namespace itself goes away (as upstream's
// namespace controller does).
#include <memory>

namespace kcube::api {
class ResourceService;
}

namespace kcube::controllers {

class NamespaceController {
  public:
    explicit NamespaceController(api::ResourceService& service);
    ~NamespaceController();  // stops and joins
    NamespaceController(const NamespaceController&) = delete;
    NamespaceController& operator=(const NamespaceController&) = delete;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kcube::controllers
