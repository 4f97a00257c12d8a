#include "cluster/dns/query.hpp"

#include <algorithm>
#include <stdexcept>

namespace kcube::dns {

namespace {

Message error_response(const Message& query, std::uint8_t code) {
    Message response = response_to(query, code);
    response.header.ra = true;
    if (query.edns) response.edns = Edns{kOurUdpSize, 0, false};
    return response;
}

Message from_answer(const Message& query, Answer answer) {
    Message response = error_response(query, answer.rcode);
    response.header.aa = true;
    response.answers = std::move(answer.answers);
    response.authority = std::move(answer.authority);
    response.additional = std::move(answer.additional);
    return response;
}

}  // namespace

std::size_t udp_limit_of(const Message& query) {
    if (!query.edns) return kClassicUdpSize;
    return std::clamp<std::size_t>(query.edns->udp_size, kClassicUdpSize, kOurUdpSize);
}

Decision decide(std::span<const std::uint8_t> wire, const ClusterRecords& records,
                const QueryConfig& config) {
    Decision decision;
    Parsed parsed = parse(wire);
    if (parsed.status == ParseStatus::kNoHeader) return decision;
    const Message& query = parsed.message;
    // Responses are never answered: answering them could start a loop between two servers.
    if (query.header.qr) return decision;
    decision.udp_limit = udp_limit_of(query);
    decision.action = Decision::Action::kAnswer;
    if (parsed.status == ParseStatus::kMalformed) {
        Message response = error_response(query, rcode::kFormErr);
        response.questions.clear();  // they may be what was malformed
        decision.response = std::move(response);
        return decision;
    }
    if (query.header.opcode != kOpcodeQuery) {
        decision.response = error_response(query, rcode::kNotImp);
        return decision;
    }
    if (query.questions.size() != 1) {
        decision.response = error_response(query, rcode::kFormErr);
        return decision;
    }
    const Question& question = query.questions.front();
    const std::string name = lower(question.name);

    if (auto host = config.static_hosts.find(name); host != config.static_hosts.end()) {
        Message response = error_response(query, rcode::kNoError);
        response.header.aa = true;
        const Address& address = host->second;
        const bool wanted = question.type == rtype::kANY ||
                            question.type == (address.v6 ? rtype::kAAAA : rtype::kA);
        if (wanted) response.answers.push_back(address_record(question.name, config.ttl, address));
        decision.response = std::move(response);
        return decision;
    }

    if (in_zone(name, config.cluster_domain)) {
        if (question.klass != kClassIN && question.klass != kClassANY) {
            decision.response = error_response(query, rcode::kRefused);
            return decision;
        }
        Answer answer = records.answer(question);
        std::optional<std::string> chase = std::move(answer.chase);
        decision.response = from_answer(query, std::move(answer));
        if (chase) {
            decision.action = Decision::Action::kChase;
            decision.chase = Question{*chase, question.type, kClassIN};
        }
        return decision;
    }

    if (question.klass == kClassIN && is_reverse_name(name)) {
        if (auto answer = records.answer_reverse(question)) {
            decision.response = from_answer(query, std::move(*answer));
            return decision;
        }
    }
    decision.action = Decision::Action::kForward;
    return decision;
}

std::vector<std::uint8_t> servfail(std::span<const std::uint8_t> wire) {
    Parsed parsed = parse(wire);
    Message response = error_response(parsed.message, rcode::kServFail);
    return finish(response, 0);
}

std::vector<std::uint8_t> chase_query(const Question& question, std::uint16_t id) {
    Message query;
    query.header.id = id;
    query.header.rd = true;
    query.questions.push_back(question);
    query.edns = Edns{kOurUdpSize, 0, false};
    return encode(query);
}

void append_chased(Message& response, std::span<const std::uint8_t> reply) {
    Parsed parsed = parse(reply);
    if (parsed.status != ParseStatus::kOk || parsed.message.header.rcode != rcode::kNoError) return;
    for (auto& record : parsed.message.answers) {
        if (record.type == rtype::kA || record.type == rtype::kAAAA || record.type == rtype::kCNAME)
            response.answers.push_back(std::move(record));
    }
    // The chased records are someone else's: this answer is no longer wholly authoritative.
    response.header.aa = false;
    // A NODATA authority SOA of ours would now contradict the answers.
    if (!response.answers.empty()) response.authority.clear();
}

std::vector<std::uint8_t> finish(const Message& response, std::size_t limit) {
    try {
        return encode(response, limit);
    } catch (const std::invalid_argument&) {
        // A name we cannot write (an ExternalName over 255 bytes, say).
        Message failed = response;
        failed.answers.clear();
        failed.authority.clear();
        failed.additional.clear();
        failed.header.rcode = rcode::kServFail;
        return encode(failed, limit);
    }
}

}  // namespace kcube::dns
