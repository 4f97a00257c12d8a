#include "cluster/dns/message.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <stdexcept>

namespace kcube::dns {

namespace {

constexpr std::size_t kHeaderSize = 12;
constexpr std::size_t kMaxName = 255;  // wire length, including the root label
constexpr std::size_t kMaxLabel = 63;
// Compression pointers followed while reading one name. Pointers must point backwards, so they
// cannot loop; this only bounds the work a hostile packet can cause.
constexpr int kMaxPointers = 64;

std::uint16_t get16(std::span<const std::uint8_t> wire, std::size_t at) {
    return static_cast<std::uint16_t>((wire[at] << 8) | wire[at + 1]);
}
std::uint32_t get32(std::span<const std::uint8_t> wire, std::size_t at) {
    return (std::uint32_t{wire[at]} << 24) | (std::uint32_t{wire[at + 1]} << 16) |
           (std::uint32_t{wire[at + 2]} << 8) | std::uint32_t{wire[at + 3]};
}
void put16(std::vector<std::uint8_t>& out, std::uint16_t value) {
    out.push_back(static_cast<std::uint8_t>(value >> 8));
    out.push_back(static_cast<std::uint8_t>(value));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t value) {
    put16(out, static_cast<std::uint16_t>(value >> 16));
    put16(out, static_cast<std::uint16_t>(value));
}
void set16(std::vector<std::uint8_t>& out, std::size_t at, std::uint16_t value) {
    out[at] = static_cast<std::uint8_t>(value >> 8);
    out[at + 1] = static_cast<std::uint8_t>(value);
}

char lower_char(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Appends one label's bytes in presentation form.
void append_label_text(std::string& name, std::span<const std::uint8_t> label) {
    if (!name.empty()) name += '.';
    for (std::uint8_t byte : label) {
        if (byte == '.' || byte == '\\') {
            name += '\\';
            name += static_cast<char>(byte);
        } else if (byte < 0x21 || byte > 0x7e) {
            name += '\\';
            name += static_cast<char>('0' + byte / 100);
            name += static_cast<char>('0' + (byte / 10) % 10);
            name += static_cast<char>('0' + byte % 10);
        } else {
            name += static_cast<char>(byte);
        }
    }
}

// The labels of a presentation-form name, unescaped.
std::vector<std::string> split_labels(std::string_view name) {
    std::vector<std::string> labels;
    if (name.empty() || name == ".") return labels;
    if (name.back() == '.') name.remove_suffix(1);
    std::string label;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        if (c == '\\') {
            if (i + 3 < name.size() && std::isdigit(static_cast<unsigned char>(name[i + 1])) &&
                std::isdigit(static_cast<unsigned char>(name[i + 2])) &&
                std::isdigit(static_cast<unsigned char>(name[i + 3]))) {
                const int value =
                    (name[i + 1] - '0') * 100 + (name[i + 2] - '0') * 10 + (name[i + 3] - '0');
                if (value > 255) throw std::invalid_argument("bad escape in name");
                label += static_cast<char>(value);
                i += 3;
            } else if (i + 1 < name.size()) {
                label += name[++i];
            } else {
                throw std::invalid_argument("name ends in a backslash");
            }
        } else if (c == '.') {
            labels.push_back(std::move(label));
            label.clear();
        } else {
            label += c;
        }
    }
    labels.push_back(std::move(label));
    return labels;
}

// Reads a name and, for rdata, re-writes it expanded into `out`.
bool copy_name(std::span<const std::uint8_t> wire, std::size_t& offset,
               std::vector<std::uint8_t>& out) {
    std::string name;
    if (!read_name(wire, offset, name)) return false;
    append_name(out, name);
    return true;
}

// The rdata at [offset, offset+length) with the names of known types expanded.
bool read_rdata(std::span<const std::uint8_t> wire, std::size_t offset, std::size_t length,
                std::uint16_t type, std::vector<std::uint8_t>& rdata) {
    const std::size_t end = offset + length;
    const auto raw = [&](std::size_t from, std::size_t count) {
        if (from + count > end) return false;
        rdata.insert(rdata.end(), wire.begin() + static_cast<std::ptrdiff_t>(from),
                     wire.begin() + static_cast<std::ptrdiff_t>(from + count));
        return true;
    };
    std::size_t at = offset;
    try {
        switch (type) {
            case rtype::kCNAME:
            case rtype::kNS:
            case rtype::kPTR:
                if (!copy_name(wire, at, rdata)) return false;
                return at == end;
            case rtype::kMX:
                if (!raw(at, 2)) return false;
                at += 2;
                if (!copy_name(wire, at, rdata)) return false;
                return at == end;
            case rtype::kSRV:
                if (!raw(at, 6)) return false;
                at += 6;
                if (!copy_name(wire, at, rdata)) return false;
                return at == end;
            case rtype::kSOA:
                if (!copy_name(wire, at, rdata) || !copy_name(wire, at, rdata)) return false;
                if (at + 20 != end) return false;
                return raw(at, 20);
            default:
                return raw(offset, length);
        }
    } catch (const std::invalid_argument&) {
        return false;
    }
}

struct Reader {
    std::span<const std::uint8_t> wire;
    std::size_t offset = kHeaderSize;

    bool question(Question& q) {
        if (!read_name(wire, offset, q.name)) return false;
        if (offset + 4 > wire.size()) return false;
        q.type = get16(wire, offset);
        q.klass = get16(wire, offset + 2);
        offset += 4;
        return true;
    }
    bool record(Record& r) {
        if (!read_name(wire, offset, r.name)) return false;
        if (offset + 10 > wire.size()) return false;
        r.type = get16(wire, offset);
        r.klass = get16(wire, offset + 2);
        r.ttl = get32(wire, offset + 4);
        const std::size_t length = get16(wire, offset + 8);
        offset += 10;
        if (offset + length > wire.size()) return false;
        if (!read_rdata(wire, offset, length, r.type, r.rdata)) return false;
        offset += length;
        return true;
    }
};

// Writes names with compression (RFC 1035 4.1.4) for owner and question names.
class Writer {
  public:
    std::vector<std::uint8_t> out;

    void name(std::string_view text) {
        const std::vector<std::string> labels = split_labels(text);
        std::size_t total = 1;
        for (const auto& label : labels) {
            if (label.empty() || label.size() > kMaxLabel)
                throw std::invalid_argument("bad label in name");
            total += label.size() + 1;
        }
        if (total > kMaxName) throw std::invalid_argument("name too long");
        for (std::size_t i = 0; i < labels.size(); ++i) {
            std::string suffix;
            for (std::size_t j = i; j < labels.size(); ++j) {
                suffix += lower(labels[j]);
                suffix += '\0';  // a separator that cannot be confused with label bytes' '.'
            }
            if (auto found = offsets_.find(suffix); found != offsets_.end()) {
                put16(out, static_cast<std::uint16_t>(0xC000 | found->second));
                return;
            }
            if (out.size() < 0x3FFF) offsets_.emplace(std::move(suffix), out.size());
            out.push_back(static_cast<std::uint8_t>(labels[i].size()));
            out.insert(out.end(), labels[i].begin(), labels[i].end());
        }
        out.push_back(0);
    }
    void record(const Record& r) {
        name(r.name);
        put16(out, r.type);
        put16(out, r.klass);
        put32(out, r.ttl);
        put16(out, static_cast<std::uint16_t>(r.rdata.size()));
        out.insert(out.end(), r.rdata.begin(), r.rdata.end());
    }
    // Forgets compression targets at or beyond `size` (after rolling back a record).
    void truncate(std::size_t size) {
        out.resize(size);
        std::erase_if(offsets_, [size](const auto& entry) { return entry.second >= size; });
    }

  private:
    std::map<std::string, std::size_t> offsets_;
};

void write_header(std::vector<std::uint8_t>& out, const Header& h) {
    put16(out, h.id);
    std::uint16_t flags = 0;
    if (h.qr) flags |= 0x8000;
    flags |= static_cast<std::uint16_t>((h.opcode & 0x0F) << 11);
    if (h.aa) flags |= 0x0400;
    if (h.tc) flags |= 0x0200;
    if (h.rd) flags |= 0x0100;
    if (h.ra) flags |= 0x0080;
    if (h.ad) flags |= 0x0020;
    if (h.cd) flags |= 0x0010;
    flags |= static_cast<std::uint16_t>(h.rcode & 0x0F);
    put16(out, flags);
    for (int i = 0; i < 4; ++i)
        put16(out, 0);  // counts, set once the sections are written
}

Record opt_record(const Edns& edns) {
    Record r;
    r.type = rtype::kOPT;
    r.klass = edns.udp_size;
    r.ttl = (std::uint32_t{edns.version} << 16) | (edns.dnssec_ok ? 0x8000u : 0u);
    return r;
}

}  // namespace

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = lower_char(c);
    return out;
}

bool names_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower_char(a[i]) != lower_char(b[i])) return false;
    }
    return true;
}

bool in_zone(std::string_view name, std::string_view zone) {
    if (zone.empty()) return true;
    if (name.size() == zone.size()) return names_equal(name, zone);
    if (name.size() < zone.size() + 1) return false;
    // The label boundary must be a real dot, not an escaped one ("a\.cluster.local").
    const std::size_t dot = name.size() - zone.size() - 1;
    if (name[dot] != '.' || !names_equal(name.substr(dot + 1), zone)) return false;
    std::size_t backslashes = 0;
    for (std::size_t i = dot; i > 0 && name[i - 1] == '\\'; --i)
        ++backslashes;
    return backslashes % 2 == 0;
}

bool read_name(std::span<const std::uint8_t> wire, std::size_t& offset, std::string& name) {
    name.clear();
    std::size_t at = offset;
    std::size_t wire_length = 1;
    int pointers = 0;
    bool jumped = false;
    while (true) {
        if (at >= wire.size()) return false;
        const std::uint8_t length = wire[at];
        if ((length & 0xC0) == 0xC0) {
            if (at + 1 >= wire.size()) return false;
            const std::size_t target = ((length & 0x3F) << 8) | wire[at + 1];
            // Only backwards: a pointer to itself or later could loop.
            if (target >= at || ++pointers > kMaxPointers) return false;
            if (!jumped) offset = at + 2;
            jumped = true;
            at = target;
            continue;
        }
        if ((length & 0xC0) != 0) return false;  // 0x40/0x80: obsolete label types
        if (length == 0) {
            if (!jumped) offset = at + 1;
            return true;
        }
        wire_length += length + 1u;
        if (wire_length > kMaxName || at + 1 + length > wire.size()) return false;
        append_label_text(name, wire.subspan(at + 1, length));
        at += 1 + length;
    }
}

void append_name(std::vector<std::uint8_t>& out, std::string_view name) {
    std::size_t total = 1;
    const std::vector<std::string> labels = split_labels(name);
    for (const auto& label : labels) {
        if (label.empty() || label.size() > kMaxLabel)
            throw std::invalid_argument("bad label in name");
        total += label.size() + 1;
    }
    if (total > kMaxName) throw std::invalid_argument("name too long");
    for (const auto& label : labels) {
        out.push_back(static_cast<std::uint8_t>(label.size()));
        out.insert(out.end(), label.begin(), label.end());
    }
    out.push_back(0);
}

Parsed parse(std::span<const std::uint8_t> wire) {
    Parsed parsed;
    if (wire.size() < kHeaderSize) return parsed;
    Header& h = parsed.message.header;
    h.id = get16(wire, 0);
    const std::uint16_t flags = get16(wire, 2);
    h.qr = flags & 0x8000;
    h.opcode = static_cast<std::uint8_t>((flags >> 11) & 0x0F);
    h.aa = flags & 0x0400;
    h.tc = flags & 0x0200;
    h.rd = flags & 0x0100;
    h.ra = flags & 0x0080;
    h.ad = flags & 0x0020;
    h.cd = flags & 0x0010;
    h.rcode = static_cast<std::uint8_t>(flags & 0x0F);
    const std::size_t counts[4] = {get16(wire, 4), get16(wire, 6), get16(wire, 8), get16(wire, 10)};
    parsed.status = ParseStatus::kMalformed;

    Reader reader{wire};
    for (std::size_t i = 0; i < counts[0]; ++i) {
        Question q;
        if (!reader.question(q)) return parsed;
        parsed.message.questions.push_back(std::move(q));
    }
    std::vector<Record>* sections[3] = {&parsed.message.answers, &parsed.message.authority,
                                        &parsed.message.additional};
    for (int s = 0; s < 3; ++s) {
        for (std::size_t i = 0; i < counts[s + 1]; ++i) {
            Record r;
            if (!reader.record(r)) return parsed;
            if (r.type == rtype::kOPT) {
                // Only one OPT, in the additional section, owned by the root (RFC 6891 6.1.1).
                if (s != 2 || parsed.message.edns || !r.name.empty()) return parsed;
                Edns edns;
                edns.udp_size = r.klass;
                edns.version = static_cast<std::uint8_t>(r.ttl >> 16);
                edns.dnssec_ok = r.ttl & 0x8000;
                parsed.message.edns = edns;
                continue;
            }
            sections[s]->push_back(std::move(r));
        }
    }
    parsed.status = ParseStatus::kOk;
    return parsed;
}

std::vector<std::uint8_t> encode(const Message& message, std::size_t max_size) {
    Writer w;
    Header header = message.header;
    write_header(w.out, header);
    for (const auto& q : message.questions) {
        w.name(q.name);
        put16(w.out, q.type);
        put16(w.out, q.klass);
    }
    const std::size_t opt_size = message.edns ? 11 : 0;
    const std::vector<Record>* sections[3] = {&message.answers, &message.authority,
                                              &message.additional};
    std::uint16_t written[3] = {0, 0, 0};
    bool full = false;
    for (int s = 0; s < 3 && !full; ++s) {
        for (const auto& r : *sections[s]) {
            const std::size_t before = w.out.size();
            w.record(r);
            if (max_size > 0 && w.out.size() + opt_size > max_size) {
                w.truncate(before);
                full = true;
                // Missing additional records are fine; missing answers or authority are not.
                if (s < 2) header.tc = true;
                break;
            }
            ++written[s];
        }
    }
    std::uint16_t additional = written[2];
    if (message.edns) {
        w.record(opt_record(*message.edns));
        ++additional;
    }
    std::vector<std::uint8_t> out = std::move(w.out);
    if (header.tc != message.header.tc) {
        std::vector<std::uint8_t> fixed;
        write_header(fixed, header);
        std::copy(fixed.begin(), fixed.begin() + 4, out.begin());
    }
    set16(out, 4, static_cast<std::uint16_t>(message.questions.size()));
    set16(out, 6, written[0]);
    set16(out, 8, written[1]);
    set16(out, 10, additional);
    return out;
}

Record make_a(std::string name, std::uint32_t ttl, const std::array<std::uint8_t, 4>& address) {
    return Record{std::move(name), rtype::kA, kClassIN, ttl, {address.begin(), address.end()}};
}

Record make_aaaa(std::string name, std::uint32_t ttl, const std::array<std::uint8_t, 16>& address) {
    return Record{std::move(name), rtype::kAAAA, kClassIN, ttl, {address.begin(), address.end()}};
}

Record make_cname(std::string name, std::uint32_t ttl, std::string_view target) {
    Record r{std::move(name), rtype::kCNAME, kClassIN, ttl, {}};
    append_name(r.rdata, target);
    return r;
}

Record make_ptr(std::string name, std::uint32_t ttl, std::string_view target) {
    Record r{std::move(name), rtype::kPTR, kClassIN, ttl, {}};
    append_name(r.rdata, target);
    return r;
}

Record make_srv(std::string name, std::uint32_t ttl, std::uint16_t priority, std::uint16_t weight,
                std::uint16_t port, std::string_view target) {
    Record r{std::move(name), rtype::kSRV, kClassIN, ttl, {}};
    put16(r.rdata, priority);
    put16(r.rdata, weight);
    put16(r.rdata, port);
    append_name(r.rdata, target);
    return r;
}

Record make_soa(std::string name, std::uint32_t ttl, const Soa& soa) {
    Record r{std::move(name), rtype::kSOA, kClassIN, ttl, {}};
    append_name(r.rdata, soa.mname);
    append_name(r.rdata, soa.rname);
    put32(r.rdata, soa.serial);
    put32(r.rdata, soa.refresh);
    put32(r.rdata, soa.retry);
    put32(r.rdata, soa.expire);
    put32(r.rdata, soa.minimum);
    return r;
}

Message response_to(const Message& query, std::uint8_t code) {
    Message response;
    response.header.id = query.header.id;
    response.header.qr = true;
    response.header.opcode = query.header.opcode;
    response.header.rd = query.header.rd;
    response.header.cd = query.header.cd;
    response.header.rcode = code;
    response.questions = query.questions;
    return response;
}

}  // namespace kcube::dns
