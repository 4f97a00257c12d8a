#include "bootstrap/kubeconfig.hpp"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"

// yaml-cpp parses into a node tree but forgets comments and how each scalar was written, and its
// own emitter quotes differently from the source. kcube therefore re-emits the tree itself: what
// was quoted stays quoted (so "true", "0600" or "null" remain strings for kubectl), what was plain
// stays plain, and key order is kept. The tree is never edited in place; an edit builds new maps
// and lists that share the untouched nodes, so YAML aliases cannot carry a change elsewhere.

namespace kcube::kubeconfig {
namespace {

namespace stdfs = std::filesystem;

// yaml-cpp's tags for scalars without an explicit tag: "!" for quoted or block (| >) scalars,
// "?" for plain ones. Nodes kcube builds itself carry no tag at all.
constexpr std::string_view kQuotedTag = "!";
constexpr std::string_view kPlainTag = "?";
constexpr std::string_view kCoreTagPrefix = "tag:yaml.org,2002:";

// Deeper nesting than this means an alias loop or a hostile file, not a kubeconfig.
constexpr int kMaxDepth = 128;

// The three lists kcube edits, and the key of the body inside each named entry.
struct Section {
    std::string_view list;
    std::string_view body;
};
constexpr Section kClusters{"clusters", "cluster"};
constexpr Section kUsers{"users", "user"};
constexpr Section kContexts{"contexts", "context"};
constexpr std::array<Section, 3> kSections{kClusters, kUsers, kContexts};

// Keys of an entry's body that kcube decides. Setting one of a pair (path or -data) must drop the
// other, and old credentials must go, or kubectl rejects or misreads the entry; every other key a
// user added (proxy-url, extensions, ...) is kept.
constexpr std::array<std::string_view, 4> kOwnedClusterKeys{
    "server", "certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify"};
constexpr std::array<std::string_view, 10> kOwnedUserKeys{"client-certificate",
                                                          "client-certificate-data",
                                                          "client-key",
                                                          "client-key-data",
                                                          "token",
                                                          "tokenFile",
                                                          "username",
                                                          "password",
                                                          "exec",
                                                          "auth-provider"};
constexpr std::array<std::string_view, 3> kOwnedContextKeys{"cluster", "user", "namespace"};

// ---------------------------------------------------------------------------------------------
// Scalars as text.

bool is_indicator(char c) {
    return std::string_view(",[]{}#&*!|>'\"%@`").find(c) != std::string_view::npos;
}

// Whether `s` can be written as a plain scalar on one line of block YAML and read back as the
// same characters. Says nothing about the type a reader resolves it to.
bool plain_syntax_ok(std::string_view s) {
    if (s.empty() || s.front() == ' ' || s.back() == ' ' || s.back() == ':') return false;
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) return false;
    }
    if (is_indicator(s.front())) return false;
    if ((s.front() == '-' || s.front() == '?' || s.front() == ':') &&
        (s.size() == 1 || s[1] == ' ')) {
        return false;
    }
    return s.find(": ") == std::string_view::npos && s.find(" #") == std::string_view::npos;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// Whether a plain `s` might be read as something other than a string: kubectl's YAML library
// follows YAML 1.1 (yes/no/on/off, octal 0600, timestamps). Errs on the side of quoting.
bool plain_may_not_be_string(std::string_view s) {
    static constexpr std::array<std::string_view, 10> kWords{"y",   "n",    "yes",   "no",   "on",
                                                             "off", "true", "false", "null", "~"};
    const std::string folded = lower(s);
    if (std::find(kWords.begin(), kWords.end(), folded) != kWords.end()) return true;
    const char first = s.front();
    return std::isdigit(static_cast<unsigned char>(first)) || first == '+' || first == '-' ||
           first == '.' || s == "<<" || s == "=";
}

std::string double_quoted(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        switch (c) {
            case '"':
                out += "\\\"";
                continue;
            case '\\':
                out += "\\\\";
                continue;
            case '\n':
                out += "\\n";
                continue;
            case '\t':
                out += "\\t";
                continue;
            case '\r':
                out += "\\r";
                continue;
            case '\0':
                out += "\\0";
                continue;
            default:
                break;
        }
        if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x85) {
            out += "\\N";  // NEL, a line break to YAML 1.1 readers
            ++i;
        } else if (c == 0xe2 && s.substr(i + 1, 2) == "\x80\xa8") {
            out += "\\L";
            i += 2;
        } else if (c == 0xe2 && s.substr(i + 1, 2) == "\x80\xa9") {
            out += "\\P";
            i += 2;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

// The tag to write before a node, or "" when the node had none in the source.
std::string tag_text(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    if (tag.empty() || tag == kQuotedTag || tag == kPlainTag) return {};
    if (tag.starts_with(kCoreTagPrefix)) return "!!" + tag.substr(kCoreTagPrefix.size());
    if (tag.starts_with("!")) return tag;
    return "!<" + tag + ">";
}

std::string scalar_text(const YAML::Node& node) {
    const std::string& value = node.Scalar();
    const std::string& tag = node.Tag();
    const std::string explicit_tag = tag_text(node);
    if (!explicit_tag.empty()) {
        return explicit_tag + " " + (plain_syntax_ok(value) ? value : double_quoted(value));
    }
    if (tag == kQuotedTag) return double_quoted(value);
    if (tag == kPlainTag) return plain_syntax_ok(value) ? value : double_quoted(value);
    // Built by kcube: a string, so plain only where no reader could take it for anything else.
    return plain_syntax_ok(value) && !plain_may_not_be_string(value) ? value : double_quoted(value);
}

// ---------------------------------------------------------------------------------------------
// Block-style emitter, laid out like kubectl's own output (lists not indented under their key).

bool fits_on_one_line(const YAML::Node& node) {
    return !node.IsDefined() || node.IsNull() || node.IsScalar() || node.size() == 0;
}

std::string one_line_text(const YAML::Node& node) {
    if (!node.IsDefined() || node.IsNull()) return "null";
    if (node.IsScalar()) return scalar_text(node);
    const std::string tag = tag_text(node);
    return (tag.empty() ? "" : tag + " ") + (node.IsMap() ? "{}" : "[]");
}

class Emitter {
  public:
    std::string document(const YAML::Node& root) {
        if (fits_on_one_line(root)) return one_line_text(root) + "\n";
        if (root.IsMap()) {
            map_body(root, 0, false);
        } else {
            sequence_body(root, 0, false);
        }
        return std::move(out_);
    }

  private:
    void indent(int columns) { out_.append(static_cast<size_t>(columns), ' '); }

    // `continues_line`: the caller has already written "- " and the first key goes right there.
    void map_body(const YAML::Node& map, int column, bool continues_line) {
        bool first = true;
        for (const auto& pair : map) {
            if (!(first && continues_line)) indent(column);
            first = false;
            out_ += one_line_text(pair.first);
            out_ += ":";
            value_after_key(pair.second, column);
        }
    }

    void sequence_body(const YAML::Node& sequence, int column, bool continues_line) {
        bool first = true;
        for (const auto& item : sequence) {
            if (!(first && continues_line)) indent(column);
            first = false;
            out_ += "- ";
            sequence_item(item, column + 2);
        }
    }

    void value_after_key(const YAML::Node& value, int key_column) {
        if (fits_on_one_line(value)) {
            out_ += " " + one_line_text(value) + "\n";
            return;
        }
        const std::string tag = tag_text(value);
        out_ += (tag.empty() ? "" : " " + tag) + "\n";
        if (value.IsMap()) {
            map_body(value, key_column + 2, false);
        } else {
            // kubectl's layout puts "- " under the key; after a tag, indent to stay unambiguous.
            sequence_body(value, tag.empty() ? key_column : key_column + 2, false);
        }
    }

    void sequence_item(const YAML::Node& item, int column) {
        if (fits_on_one_line(item)) {
            out_ += one_line_text(item) + "\n";
            return;
        }
        const std::string tag = tag_text(item);
        if (!tag.empty()) out_ += tag + "\n";
        if (item.IsMap()) {
            map_body(item, column, tag.empty());
        } else {
            sequence_body(item, column, tag.empty());
        }
    }

    std::string out_;
};

std::string emit(const YAML::Node& root) {
    return Emitter().document(root);
}

// ---------------------------------------------------------------------------------------------
// Reading and checking a file.

[[noreturn]] void throw_parse_error(const stdfs::path& file, const YAML::Mark& mark,
                                    const std::string& problem) {
    std::string where;
    if (!mark.is_null()) {
        where = "line " + std::to_string(mark.line + 1) + ", column " +
                std::to_string(mark.column + 1) + ": ";
    }
    throw Error(ExitCode::kState, "KUBECONFIG_PARSE",
                "cannot parse kubeconfig " + file.string() + ": " + where + problem,
                "Fix or move aside " + file.string() +
                    "; kcube will not overwrite a kubeconfig it cannot read.");
}

bool key_is(const YAML::Node& key, std::string_view name) {
    return key.IsScalar() && key.Scalar() == name;
}

// map[key], or an undefined node. (yaml-cpp's own lookup of a missing key returns a node whose
// every type test throws.)
YAML::Node child(const YAML::Node& map, std::string_view key) {
    if (map.IsMap()) {
        for (const auto& pair : map) {
            if (key_is(pair.first, key)) return pair.second;
        }
    }
    return YAML::Node(YAML::NodeType::Undefined);
}

bool is_null_or(const YAML::Node& node, YAML::NodeType::value type) {
    return !node.IsDefined() || node.IsNull() || node.Type() == type;
}

// Keys kcube can write back must be scalars; kubectl could not read anything else either.
void check_tree(const stdfs::path& file, const YAML::Node& node, int depth) {
    if (depth > kMaxDepth) throw_parse_error(file, node.Mark(), "nesting too deep");
    if (node.IsSequence()) {
        for (const auto& item : node) {
            check_tree(file, item, depth + 1);
        }
    } else if (node.IsMap()) {
        for (const auto& pair : node) {
            if (pair.first.IsMap() || pair.first.IsSequence()) {
                throw_parse_error(file, pair.first.Mark(), "a mapping key is not a string");
            }
            check_tree(file, pair.second, depth + 1);
        }
    }
}

// The parts kcube reads or rewrites must have the shape kubectl expects; anything else is left to
// kubectl to judge, and kept as it is.
void check_kubeconfig_shape(const stdfs::path& file, const YAML::Node& root) {
    if (!is_null_or(root, YAML::NodeType::Map)) {
        throw_parse_error(file, root.Mark(), "the top level is not a mapping");
    }
    if (root.IsNull()) return;
    check_tree(file, root, 0);
    const YAML::Node current = child(root, "current-context");
    if (!is_null_or(current, YAML::NodeType::Scalar)) {
        throw_parse_error(file, current.Mark(), "current-context is not a string");
    }
    for (const Section& section : kSections) {
        const YAML::Node list = child(root, section.list);
        const std::string list_name(section.list);
        if (!is_null_or(list, YAML::NodeType::Sequence)) {
            throw_parse_error(file, list.Mark(), list_name + " is not a list");
        }
        if (!list.IsDefined() || list.IsNull()) continue;
        for (const auto& entry : list) {
            if (!entry.IsMap()) {
                throw_parse_error(file, entry.Mark(),
                                  "an entry of " + list_name + " is not a mapping");
            }
            if (!is_null_or(child(entry, "name"), YAML::NodeType::Scalar)) {
                throw_parse_error(file, child(entry, "name").Mark(),
                                  "a name in " + list_name + " is not a string");
            }
            const YAML::Node body = child(entry, section.body);
            if (!is_null_or(body, YAML::NodeType::Map)) {
                throw_parse_error(
                    file, body.Mark(),
                    std::string(section.body) + " in " + list_name + " is not a mapping");
            }
        }
    }
}

YAML::Node parse(const stdfs::path& file, const std::string& text) {
    std::vector<YAML::Node> documents;
    try {
        documents = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
        throw_parse_error(file, e.mark, e.msg);
    }
    // kubectl reads only the first document; writing that one back would drop the others.
    if (documents.size() > 1) {
        throw_parse_error(file, documents[1].Mark(), "more than one YAML document");
    }
    YAML::Node root = documents.empty() ? YAML::Node(YAML::NodeType::Null) : documents.front();
    check_kubeconfig_shape(file, root);
    return root;
}

// Only a file known to be absent; one that cannot be examined is left to read_file to explain.
bool is_missing(const stdfs::path& file) {
    std::error_code error;
    return !stdfs::exists(file, error) && !error;
}

// The parsed file, or nullopt if it does not exist. An empty file is an empty (null) document.
std::optional<YAML::Node> load(const stdfs::path& file) {
    if (is_missing(file)) return std::nullopt;
    return parse(file, fs::read_file(file));
}

// A symlinked kubeconfig (dotfile managers) is written through, as kubectl does, not replaced.
stdfs::path write_target(const stdfs::path& file) {
    std::error_code error;
    if (!stdfs::is_symlink(file, error)) return file;
    const stdfs::path target = stdfs::weakly_canonical(file, error);
    return error ? file : target;
}

void save(const stdfs::path& file, const YAML::Node& root) {
    fs::write_file_atomic(write_target(file), emit(root), 0600);
}

// ---------------------------------------------------------------------------------------------
// Building and editing nodes. Edits return new maps and lists sharing unchanged children.

YAML::Node string_node(std::string_view value) {
    return YAML::Node(std::string(value));
}

YAML::Node new_map() {
    return YAML::Node(YAML::NodeType::Map);
}

std::optional<std::string> scalar_at(const YAML::Node& map, std::string_view key) {
    if (!map.IsMap()) return std::nullopt;
    const YAML::Node value = child(map, key);
    if (!value.IsDefined() || !value.IsScalar()) return std::nullopt;
    return value.Scalar();
}

// A key and its new value; no value removes the key.
using Change = std::pair<std::string_view, std::optional<YAML::Node>>;

// `map` with each change applied where its key already is (so the file keeps its order), new
// keys appended in the order given, and the keys in `dropped` removed.
YAML::Node with_changes(const YAML::Node& map, const std::vector<Change>& changes,
                        const std::vector<std::string_view>& dropped = {}) {
    YAML::Node out = new_map();
    std::vector<bool> placed(changes.size(), false);
    if (map.IsMap()) {
        for (const auto& pair : map) {
            const auto is_key = [&](std::string_view name) { return key_is(pair.first, name); };
            if (std::any_of(dropped.begin(), dropped.end(), is_key)) continue;
            const auto change = std::find_if(changes.begin(), changes.end(),
                                             [&](const Change& c) { return is_key(c.first); });
            if (change == changes.end()) {
                out.force_insert(pair.first, pair.second);
                continue;
            }
            const auto index = static_cast<size_t>(change - changes.begin());
            // A key written twice keeps only its first place.
            if (change->second && !placed[index]) out.force_insert(pair.first, *change->second);
            placed[index] = true;
        }
    }
    for (size_t i = 0; i < changes.size(); ++i) {
        if (!placed[i] && changes[i].second) {
            out.force_insert(string_node(changes[i].first), *changes[i].second);
        }
    }
    return out;
}

bool entry_named(const YAML::Node& entry, const std::string& name) {
    return scalar_at(entry, "name") == name;
}

// The body kcube writes for one entry, keys in kubectl's (alphabetical) order.
struct Body {
    std::vector<Change> keys;
    std::vector<std::string_view> owned;  // removed from an existing body unless in `keys`
};

// `list` with the entry `name` given `body`: replaced where it is, or appended. Later entries of
// the same name (which kubectl refuses to load) are dropped.
YAML::Node with_entry(const YAML::Node& list, const Section& section, const std::string& name,
                      const Body& body) {
    YAML::Node out(YAML::NodeType::Sequence);
    bool found = false;
    if (list.IsSequence()) {
        for (const auto& entry : list) {
            if (!entry_named(entry, name)) {
                out.push_back(entry);
                continue;
            }
            if (found) continue;
            found = true;
            const YAML::Node old_body = child(entry, section.body);
            const YAML::Node new_body = with_changes(old_body, body.keys, body.owned);
            out.push_back(with_changes(entry, {{section.body, new_body}}));
        }
    }
    if (!found) {
        YAML::Node new_body = with_changes(new_map(), body.keys);
        // Alphabetical like kubectl: cluster/context sort before name, user after it.
        if (section.body < "name") {
            out.push_back(
                with_changes(new_map(), {{section.body, new_body}, {"name", string_node(name)}}));
        } else {
            out.push_back(
                with_changes(new_map(), {{"name", string_node(name)}, {section.body, new_body}}));
        }
    }
    return out;
}

bool has_entry(const YAML::Node& root, const Section& section, const std::string& name) {
    const YAML::Node list = child(root, section.list);
    return list.IsSequence() && std::any_of(list.begin(), list.end(), [&](const YAML::Node& entry) {
               return entry_named(entry, name);
           });
}

// `list` without the entries named `name`; `removed` tells whether there were any.
YAML::Node without_entry(const YAML::Node& list, const std::string& name, bool& removed) {
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& entry : list) {
        if (entry_named(entry, name)) {
            removed = true;
        } else {
            out.push_back(entry);
        }
    }
    return out;
}

std::string base64(const std::string& data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                       reinterpret_cast<const unsigned char*>(data.data()),
                                       static_cast<int>(data.size()));
    out.resize(static_cast<size_t>(length));
    return out;
}

// "key: path" or, embedded, "key-data: base64 of the file".
Change file_reference(std::string_view key, std::string_view data_key, const stdfs::path& path,
                      bool embed) {
    if (embed) return {data_key, string_node(base64(fs::read_file(path)))};
    return {key, string_node(path.string())};
}

std::vector<std::string_view> owned(std::span<const std::string_view> keys) {
    return {keys.begin(), keys.end()};
}

Body cluster_body(const Entry& entry) {
    return {{file_reference("certificate-authority", "certificate-authority-data",
                            entry.certificate_authority, entry.embed_certs),
             {"server", string_node(entry.server)}},
            owned(kOwnedClusterKeys)};
}

Body user_body(const Entry& entry) {
    return {{file_reference("client-certificate", "client-certificate-data",
                            entry.client_certificate, entry.embed_certs),
             file_reference("client-key", "client-key-data", entry.client_key, entry.embed_certs)},
            owned(kOwnedUserKeys)};
}

Body context_body(const Entry& entry) {
    Body body{{{"cluster", string_node(entry.name)}}, owned(kOwnedContextKeys)};
    if (!entry.default_namespace.empty()) {
        body.keys.emplace_back("namespace", string_node(entry.default_namespace));
    }
    body.keys.emplace_back("user", string_node(entry.name));
    return body;
}

// What kubectl writes into a file it creates, in its order.
YAML::Node empty_kubeconfig() {
    return with_changes(new_map(), {{"apiVersion", string_node("v1")},
                                    {"clusters", YAML::Node(YAML::NodeType::Sequence)},
                                    {"contexts", YAML::Node(YAML::NodeType::Sequence)},
                                    {"current-context", string_node("")},
                                    {"kind", string_node("Config")},
                                    {"preferences", new_map()},
                                    {"users", YAML::Node(YAML::NodeType::Sequence)}});
}

// kubectl accepts a file without apiVersion and kind, but other tools do not.
YAML::Node with_header(const YAML::Node& root) {
    if (child(root, "apiVersion").IsDefined() && child(root, "kind").IsDefined()) return root;
    YAML::Node out = new_map();
    if (!child(root, "apiVersion").IsDefined()) {
        out.force_insert(string_node("apiVersion"), string_node("v1"));
    }
    if (!child(root, "kind").IsDefined()) {
        out.force_insert(string_node("kind"), string_node("Config"));
    }
    for (const auto& pair : root) {
        out.force_insert(pair.first, pair.second);
    }
    return out;
}

YAML::Node upserted(const YAML::Node& root, const Entry& entry, bool make_current) {
    std::vector<Change> changes{
        {kClusters.list,
         with_entry(child(root, "clusters"), kClusters, entry.name, cluster_body(entry))},
        {kUsers.list, with_entry(child(root, "users"), kUsers, entry.name, user_body(entry))},
        {kContexts.list,
         with_entry(child(root, "contexts"), kContexts, entry.name, context_body(entry))},
    };
    if (make_current) changes.emplace_back("current-context", string_node(entry.name));
    return with_changes(root, changes);
}

}  // namespace

stdfs::path default_path() {
    if (const char* env = std::getenv("KUBECONFIG"); env != nullptr) {
        std::string_view rest(env);
        while (!rest.empty()) {
            const size_t colon = rest.find(':');
            const std::string_view first = rest.substr(0, colon);
            if (!first.empty()) return stdfs::path(std::string(first));
            if (colon == std::string_view::npos) break;
            rest.remove_prefix(colon + 1);
        }
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
        return stdfs::path(home) / ".kube" / "config";
    }
    throw Error(ExitCode::kHost, "HOST_NO_HOME", "neither $KUBECONFIG nor $HOME is set",
                "Set KUBECONFIG to the kubeconfig file kcube should write.");
}

void upsert(const stdfs::path& file, const Entry& entry, bool make_current) {
    fs::FileLock lock(file);
    const std::optional<YAML::Node> existing = load(file);
    const bool empty = !existing || existing->IsNull();
    const YAML::Node before = empty ? empty_kubeconfig() : with_header(*existing);
    const YAML::Node after = upserted(before, entry, make_current);
    if (!existing || emit(after) != emit(*existing)) save(file, after);
}

bool remove(const stdfs::path& file, const std::string& name) {
    // Checked before locking so that removing from a missing file creates nothing, not even
    // its directory.
    if (is_missing(file)) return false;
    fs::FileLock lock(file);
    const std::optional<YAML::Node> existing = load(file);
    if (!existing || existing->IsNull()) return false;
    bool removed = false;
    std::vector<Change> changes;
    for (const Section& section : kSections) {
        const YAML::Node list = child(*existing, section.list);
        if (list.IsSequence()) {
            changes.emplace_back(section.list, without_entry(list, name, removed));
        }
    }
    // kubectl's own "unset current-context" writes an empty string.
    if (scalar_at(*existing, "current-context") == name) {
        changes.emplace_back("current-context", string_node(""));
        removed = true;
    }
    if (!removed) return false;
    save(file, with_changes(*existing, changes));
    return true;
}

void use_context(const stdfs::path& file, const std::string& name) {
    const auto missing = [&] {
        return Error(ExitCode::kNotFound, "KUBECONFIG_NO_CONTEXT",
                     "no context \"" + name + "\" in " + file.string(),
                     "Run `kcube start -p " + name +
                         "` to create it, or list the contexts with "
                         "`kubectl config get-contexts`.");
    };
    if (is_missing(file)) throw missing();
    fs::FileLock lock(file);
    const std::optional<YAML::Node> existing = load(file);
    if (!existing || !has_entry(*existing, kContexts, name)) throw missing();
    if (scalar_at(*existing, "current-context") == name) return;
    save(file, with_changes(*existing, {{"current-context", string_node(name)}}));
}

std::optional<std::string> current_context(const stdfs::path& file) {
    const std::optional<YAML::Node> existing = load(file);
    if (!existing) return std::nullopt;
    std::optional<std::string> current = scalar_at(*existing, "current-context");
    if (current && current->empty()) return std::nullopt;
    return current;
}

bool has_context(const stdfs::path& file, const std::string& name) {
    const std::optional<YAML::Node> existing = load(file);
    return existing && has_entry(*existing, kContexts, name);
}

std::optional<std::string> context_server(const stdfs::path& file, const std::string& name) {
    const std::optional<YAML::Node> existing = load(file);
    if (!existing) return std::nullopt;
    // The body of the entry `name` in `section`'s list (an undefined node when absent).
    const auto body = [&](const Section& section, const std::string& entry_name) {
        const YAML::Node list = child(*existing, section.list);
        if (list.IsSequence()) {
            for (const auto& entry : list) {
                if (entry_named(entry, entry_name)) return child(entry, section.body);
            }
        }
        return YAML::Node();
    };
    const auto cluster = scalar_at(body(kContexts, name), "cluster");
    if (!cluster) return std::nullopt;
    return scalar_at(body(kClusters, *cluster), "server");
}

std::string render(const Entry& entry) {
    return emit(upserted(empty_kubeconfig(), entry, true));
}

}  // namespace kcube::kubeconfig
