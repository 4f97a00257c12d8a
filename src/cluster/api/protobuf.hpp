#pragma once
// Kubernetes protobuf request bodies (Content-Type: application/vnd.kubernetes.protobuf), as
// client-go's typed clients send them for built-in kinds (kubectl create/run/expose, auth can-i,
// drain, create token...) without falling back to JSON. kcube stores JSON, so a body is decoded
// into the JSON object upstream would produce by decoding into the Go type and JSON-encoding it:
// omitempty rules, `null` for unset non-omitempty slices, maps and timestamps, base64 bytes,
// RFC 3339 timestamps, int-or-string and quantities as JSON values. The wire mapping (field
// numbers, zero handling) is the schemas' x-kcube-proto extension (schemas/README.md).
#include <boost/json/object.hpp>
#include <string_view>

#include "schema.hpp"

namespace kcube::api {

// True for "application/vnd.kubernetes.protobuf" with any parameters, case-insensitively.
bool is_kubernetes_protobuf(std::string_view content_type);

// Decodes the envelope (the 4-byte magic "k8s\0", then a runtime.Unknown message carrying the
// TypeMeta and the object's bytes) and the object, looked up by definition_name_for(group,
// version, kind) in `schemas`. The result carries kind and apiVersion from the envelope. Unknown
// fields are skipped. Malformed input (truncated data, bad lengths, wrong wire types, nesting
// deeper than 100 messages, an unknown kind, values JSON cannot carry) throws ApiError 400.
boost::json::object decode_kubernetes_protobuf(std::string_view body, const SchemaSet& schemas);

}  // namespace kcube::api
