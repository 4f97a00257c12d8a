#pragma once
// Where the host reaches a cluster's Services (`kcube service`): the NodePorts of NodePort and
// LoadBalancer Services, at the address the driver gives for them.
#include <boost/json/fwd.hpp>
#include <string>
#include <vector>

#include "bootstrap/api_client.hpp"
#include "drivers/driver.hpp"

namespace kcube::lifecycle {

struct ServicePortUrl {
    std::string port_name;    // the Service port's name ("" when unnamed)
    int port = 0;             // the Service port
    std::string target_port;  // as written (a number or a container port name)
    int node_port = 0;        // 0: none (ClusterIP, headless, ExternalName)
    std::string url;          // http://HOST:PORT, "" without a node port
};

struct ServiceUrls {
    std::string ns, name, type;
    std::vector<ServicePortUrl> ports;
};

// The URLs of one Service object (JSON as the API returns it).
ServiceUrls service_urls_of(const boost::json::object& service, const drivers::Driver& driver);

// Service `ns/name` of the running cluster. Throws Error(kNotFound, SVC_NOT_FOUND) when it does
// not exist, Error(kCluster) when the API server does not answer.
ServiceUrls service_urls(const drivers::Driver& driver, const bootstrap::ApiAccess& access,
                         const std::string& ns, const std::string& name);

// Every Service in `ns` ("" for all namespaces), ordered by namespace and name.
std::vector<ServiceUrls> all_service_urls(const drivers::Driver& driver,
                                          const bootstrap::ApiAccess& access,
                                          const std::string& ns);

}  // namespace kcube::lifecycle
