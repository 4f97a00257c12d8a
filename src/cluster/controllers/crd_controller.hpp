#pragma once
// Serves CustomResourceDefinitions: registers their resources (so discovery and routing see
// them), marks them Established, and on deletion removes their custom objects first.
#include <memory>

namespace kcube::api {
class ResourceService;
class ResourceRegistry;
}  // namespace kcube::api

namespace kcube::controllers {

class CrdController {
  public:
    CrdController(api::ResourceService& service, api::ResourceRegistry& registry);
    ~CrdController();
    CrdController(const CrdController&) = delete;
    CrdController& operator=(const CrdController&) = delete;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kcube::controllers
