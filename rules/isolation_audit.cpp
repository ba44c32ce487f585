#include "rules/isolation_audit.hpp"

namespace sg::audit {

namespace {

// Messages whose origin is remembered at once (a queue id lives for minutes
// to days; a log of a busy day holds a few hundred thousand).
constexpr std::size_t kMaxOrigins = 4'000'000;

}  // namespace

IsolationAudit::IsolationAudit(const Config& cfg) {
  for (const auto& s : cfg.streams) {
    stream_by_service_[s.postfix.syslog_name] = s.name;
    stream_by_transport_["postfix/" + s.postfix.transport] = s.name;
    streams_[s.name];
  }
}

void IsolationAudit::breach(const maillog::Delivery& d, std::string came_in, std::string left_by) {
  ++breach_count_;
  if (breaches_.size() < kMaxKept)
    breaches_.push_back({d.queue_id, d.timestamp, d.recipient, std::move(came_in),
                         std::move(left_by), maillog::to_string(d.status)});
}

void IsolationAudit::feed(std::string_view line) {
  ++lines_;
  if (auto s = maillog::parse_submission(line)) {
    if (origin_.size() >= kMaxOrigins) origin_.clear();  // bounded: old ids go
    const std::string service = s->pickup ? "pickup" : std::string(s->service_name());
    if (auto it = stream_by_service_.find(service); it != stream_by_service_.end())
      ++streams_[it->second].submitted;
    origin_[s->queue_id] = service;
    return;
  }
  auto d = maillog::parse_line(line);
  if (!d || d->program() == "qmgr") return;  // an expiry names no transport
  const std::string agent(d->syslog_name.substr(0, d->syslog_name.rfind('/')));
  const auto via = stream_by_transport_.find(agent);
  const auto origin = origin_.find(d->queue_id);
  if (origin == origin_.end()) {
    ++unknown_origin_;
    return;
  }
  const auto from = stream_by_service_.find(origin->second);
  // Only smtp and lmtp leave the machine. Postfix's retry and error agents
  // report a deferral or bounce of a transport that is suspended or refused
  // (no egress at all): counted for the stream, never a path.
  const std::string_view program = d->program();
  if (program != "smtp" && program != "lmtp") {
    if (from == stream_by_service_.end())
      ++other_mail_;
    else
      ++streams_[from->second].results[static_cast<std::size_t>(d->status)];
    return;
  }
  const std::string left_by =
      via != stream_by_transport_.end()
          ? "transport " + agent.substr(agent.find('/') + 1) + " (stream " + via->second + ")"
          : d->syslog_name + " (no stream's transport)";
  if (from == stream_by_service_.end()) {
    ++other_mail_;
    if (via != stream_by_transport_.end()) breach(*d, origin->second + " (no stream)", left_by);
    return;
  }
  StreamCounts& c = streams_[from->second];
  if (via != stream_by_transport_.end() && via->second == from->second) {
    ++c.results[static_cast<std::size_t>(d->status)];
    return;
  }
  ++c.breaches;
  breach(*d, "stream " + from->second + " (" + origin->second + ")", left_by);
}

}  // namespace sg::audit
