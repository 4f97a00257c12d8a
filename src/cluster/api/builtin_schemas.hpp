#pragma once
// The built-in API types' schemas (kcube's own data in src/cluster/api/schemas/, embedded in the
// binary) and the naming rule that maps an API kind to its OpenAPI definition.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schema.hpp"

namespace kcube::api {

// Every embedded schema file as {file name, contents}; generated at build time by
// cmake/EmbedFiles.cmake from src/cluster/api/schemas/*.json.
const std::vector<std::pair<std::string_view, std::string_view>>& embedded_schema_files();

// All built-in definitions, parsed once on first use (thread-safe) and immutable afterwards.
// A malformed embedded file is a build defect: it throws std::invalid_argument naming the file.
const SchemaSet& builtin_schemas();

// The OpenAPI definition name of a kind, as clients look it up: ("apps", "v1", "Deployment") ->
// "io.k8s.api.apps.v1.Deployment", ("", "v1", "Status") ->
// "io.k8s.apimachinery.pkg.apis.meta.v1.Status". Built-in kinds are looked up by their
// x-kubernetes-group-version-kind; other groups follow upstream's naming (custom resources:
// the reversed group, e.g. ("stable.example.com", "v1", "CronTab") ->
// "com.example.stable.v1.CronTab").
std::string definition_name_for(std::string_view group, std::string_view version,
                                std::string_view kind);

}  // namespace kcube::api
