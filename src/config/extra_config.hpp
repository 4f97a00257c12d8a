#pragma once
// `kcube start --extra-config=component.key=value` (minikube's flag): settings passed through to
// the node. kcube's node is one process, so each supported key maps to a `kcube node run` flag.
#include <string>
#include <vector>

namespace kcube::config {

// Throws Error(kUsage, EXTRA_CONFIG_INVALID) for a malformed entry or an unsupported key,
// listing the supported ones.
void validate_extra_config(const std::string& entry);

// Merges `given` into `recorded`: a key given again replaces its earlier value.
std::vector<std::string> merge_extra_config(std::vector<std::string> recorded,
                                            const std::vector<std::string>& given);

// The `kcube node run` arguments for validated entries, e.g. {"--resolv-conf", "/x"}.
std::vector<std::string> extra_config_node_args(const std::vector<std::string>& entries);

}  // namespace kcube::config
