// Two of upstream's per-namespace housekeepers in one controller keyed by namespace:
// - the ServiceAccount controller (pkg/controller/serviceaccount): a "default" ServiceAccount
//   in every active namespace, made again if deleted;
// - the root CA publisher (pkg/controller/certificates/rootcacertpublisher): the
//   "kube-root-ca.crt" ConfigMap with the cluster CA in every namespace, put back if edited.
// Namespaces that are being deleted are left alone.
#include <boost/json.hpp>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/controllers.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/controllers/runtime/object_util.hpp"

namespace kcube::controllers {
namespace {
namespace json = boost::json;

constexpr std::string_view kDefaultServiceAccount = "default";
constexpr std::string_view kRootCAConfigMap = "kube-root-ca.crt";
constexpr std::string_view kDescriptionAnnotation = "kubernetes.io/description";
constexpr std::string_view kDescription =
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters.";

bool active(const json::object& ns) {
    return !is_terminating(ns) && api::field_value(ns, "status.phase") != "Terminating";
}

std::string annotation(const json::object& object, std::string_view key) {
    const auto* metadata = object.if_contains("metadata");
    const auto* annotations = metadata && metadata->is_object()
                                  ? metadata->as_object().if_contains("annotations")
                                  : nullptr;
    const auto* value = annotations && annotations->is_object()
                            ? annotations->as_object().if_contains(key)
                            : nullptr;
    return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

// A create the namespace refuses (gone, or being deleted) is nothing to retry.
bool namespace_refused(const api::ApiError& e) {
    return e.code() == 404 ||
           (e.code() == 403 &&
            std::string(e.what()).find("because it is being terminated") != std::string::npos);
}

class ServiceAccountController final : public Controller {
  public:
    explicit ServiceAccountController(ControllerContext& ctx)
        : Controller("serviceaccount-controller"),
          ctx_(ctx),
          namespaces_(ctx.informers.get("", "v1", "namespaces")),
          service_accounts_(ctx.informers.get("", "v1", "serviceaccounts")),
          configmaps_(ctx.informers.get("", "v1", "configmaps")) {
        options_.field_manager = kControllerFieldManager;
        namespaces_.on_change([this](const ObjectPtr&, const ObjectPtr& now) {
            if (now && active(*now)) queue().add(api::meta_string(*now, "name"));
        });
        service_accounts_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            if (!now && api::meta_string(*old, "name") == kDefaultServiceAccount) {
                queue().add(api::meta_string(*old, "namespace"));
            }
        });
        configmaps_.on_change([this](const ObjectPtr& old, const ObjectPtr& now) {
            const auto& cm = now ? *now : *old;
            if (old && api::meta_string(cm, "name") == kRootCAConfigMap) {
                queue().add(api::meta_string(cm, "namespace"));
            }
        });
    }

  protected:
    void reconcile(const std::string& ns) override {
        const auto object = namespaces_.get(ns);
        if (!object || !active(*object)) return;
        ensure_service_account(ns);
        ensure_root_ca(ns);
    }

  private:
    void ensure_service_account(const std::string& ns) {
        if (service_accounts_.get(ns, kDefaultServiceAccount)) return;
        json::object sa{{"apiVersion", "v1"},
                        {"kind", "ServiceAccount"},
                        {"metadata", json::object{{"name", kDefaultServiceAccount}}}};
        try {
            service_accounts_.remember(
                ctx_.service.create(service_accounts_.info(), ns, std::move(sa), options_));
        } catch (const api::ApiError& e) {
            if (e.code() != 409 && !namespace_refused(e)) throw;
        }
    }

    void ensure_root_ca(const std::string& ns) {
        const json::object data{{"ca.crt", ctx_.settings.root_ca_pem}};
        const auto current = configmaps_.get(ns, kRootCAConfigMap);
        if (!current) {
            json::object cm{
                {"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", json::object{{"name", kRootCAConfigMap},
                                          {"annotations",
                                           json::object{{kDescriptionAnnotation, kDescription}}}}},
                {"data", data}};
            try {
                configmaps_.remember(
                    ctx_.service.create(configmaps_.info(), ns, std::move(cm), options_));
            } catch (const api::ApiError& e) {
                if (!namespace_refused(e)) throw;  // 409: the cache was behind; look again
            }
            return;
        }
        const auto* stored = current->if_contains("data");
        const bool same_data = stored && stored->is_object() && stored->as_object() == data;
        if (same_data && !annotation(*current, kDescriptionAnnotation).empty()) return;
        json::object cm = *current;
        cm["data"] = data;
        child_object(api::metadata_of(cm), "annotations")[kDescriptionAnnotation] = kDescription;
        configmaps_.remember(ctx_.service.update(
            configmaps_.info(), ns, std::string(kRootCAConfigMap), std::move(cm), options_));
    }

    ControllerContext& ctx_;
    Informer& namespaces_;
    Informer& service_accounts_;
    Informer& configmaps_;
    api::WriteOptions options_;
};

}  // namespace

std::unique_ptr<Controller> make_serviceaccount_controller(ControllerContext& ctx) {
    return std::make_unique<ServiceAccountController>(ctx);
}

}  // namespace kcube::controllers
