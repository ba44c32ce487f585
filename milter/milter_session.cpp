#include "milter/milter_session.hpp"

#include <algorithm>

#include "common/text.hpp"

namespace sg {

const char* to_string(MilterVerdict v) {
  switch (v) {
    case MilterVerdict::accept:
      return "accept";
    case MilterVerdict::tempfail:
      return "tempfail";
    case MilterVerdict::reject:
      return "reject";
  }
  return "?";
}

namespace {

int severity(CheckAction a) {
  switch (a) {
    case CheckAction::off:
      return 0;
    case CheckAction::warn:
      return 1;
    case CheckAction::tempfail:
      return 2;
    case CheckAction::reject:
      return 3;
  }
  return 0;
}

using text::parse_port;

}  // namespace

MessageDecision decide_message(std::vector<CheckFinding> findings) {
  MessageDecision d;
  const CheckFinding* worst = nullptr;
  for (const auto& f : findings)
    if (f.action != CheckAction::off && (!worst || severity(f.action) > severity(worst->action)))
      worst = &f;
  if (worst && worst->action == CheckAction::tempfail) {
    d.verdict = MilterVerdict::tempfail;
    d.rcode = "451";
    d.xcode = "4.7.0";
  } else if (worst && worst->action == CheckAction::reject) {
    d.verdict = MilterVerdict::reject;
    d.rcode = "550";
    d.xcode = "5.7.0";
  }
  if (d.verdict != MilterVerdict::accept) d.text = "streamguard: " + worst->reason;
  std::erase_if(findings, [](const CheckFinding& f) { return f.action == CheckAction::off; });
  d.findings = std::move(findings);
  return d;
}

MilterSession::MilterSession(std::shared_ptr<const MilterRuntime> runtime)
    : runtime_(std::move(runtime)) {}

void MilterSession::connect(std::string_view client_addr, std::string_view client_name,
                            std::string_view daemon_port, std::string_view daemon_name) {
  client_addr_ = client_addr;
  client_name_ = client_name;
  daemon_port_ = daemon_port;
  daemon_name_ = daemon_name;
  const Config& cfg = *runtime_->config;
  stream_ = nullptr;
  if (auto port = parse_port(daemon_port)) stream_ = cfg.stream_for_port(*port);
  // milter_macro_daemon_name set to the stream's name on its services.
  if (!stream_ && !daemon_name.empty()) stream_ = cfg.stream_named(daemon_name);
}

void MilterSession::mail_from(std::string_view, bool authenticated) {
  authenticated_ = authenticated;
  scanner_.emplace();
}

void MilterSession::header(std::string_view name, std::string_view value) {
  if (!scanner_) scanner_.emplace();
  scanner_->header(name, value);
}

void MilterSession::end_of_headers() {
  if (!scanner_) scanner_.emplace();
  scanner_->end_of_headers();
}

void MilterSession::body(std::string_view chunk) {
  if (!scanner_) scanner_.emplace();
  scanner_->body(chunk);
}

void MilterSession::abort() {
  scanner_.reset();
  authenticated_ = false;
}

std::vector<CheckFinding> MilterSession::dkim_findings(const hygiene::Findings& f) const {
  std::vector<CheckFinding> out;
  const CheckAction action = stream_->milter.dkim;
  if (action == CheckAction::off) return out;
  if (!runtime_->opendkim) {
    out.push_back({"dkim", action,
                   "cannot tell whether OpenDKIM signs this message: " + runtime_->opendkim_error,
                   "opendkim_unreadable"});
    return out;
  }
  if (f.from_domain.empty()) {
    out.push_back(
        {"dkim", action, "the message has no From address OpenDKIM could sign for", "no_from"});
    return out;
  }
  // Before: will OpenDKIM's own configuration sign it?
  dkim::ClientInfo client;
  client.ip = client_addr_;
  client.hostname = client_name_;
  client.authenticated = authenticated_;
  client.daemon_name = daemon_name_;
  auto p = dkim::predict_signing(*runtime_->opendkim, client, f.from_address);
  if (!p.will_sign) {
    out.push_back({"dkim", action, "the message would leave unsigned: " + p.reason,
                   dkim::unsigned_code(p.first_lack)});
    return out;
  }
  // After: OpenDKIM runs before us in smtpd_milters, so its signature is
  // already among the headers we were shown.
  for (const auto& value : f.dkim_signatures) {
    auto sig = dkim::parse_dkim_signature(value);
    if (sig && dkim::aligned(sig->d, f.from_domain)) return out;
  }
  out.push_back({"dkim", action,
                 "the message would leave without a DKIM-Signature aligned to its From domain " +
                     f.from_domain + " (OpenDKIM should have signed it with d=" + p.signing_domain +
                     "; is it listed before streamguard-milter in smtpd_milters?)",
                 "not_signed"});
  return out;
}

std::vector<CheckFinding> MilterSession::hygiene_findings(const hygiene::Findings& f) const {
  std::vector<CheckFinding> out;
  const auto& m = stream_->milter;
  if (!f.message_id_present)
    out.push_back({"message_id", m.message_id, "the message has no Message-ID", "missing"});
  else if (f.local_message_id)
    out.push_back({"message_id", m.message_id, f.message_id_problem, "local_domain"});
  if (f.truncated)
    // Past a MIME limit the structure is only partly known: say so rather
    // than judge the parts on what was seen.
    out.push_back({"html_only", std::min(m.html_only, CheckAction::warn),
                   "the MIME structure was not fully checked: " + f.truncated_reason, "truncated"});
  else if (f.html_without_text)
    out.push_back({"html_only", m.html_only,
                   "the message has a text/html part and no text/plain alternative", "html_only"});
  // RFC 8058 one-click needs an https URI and the List-Unsubscribe-Post header.
  if (!f.list_unsubscribe_https || !f.one_click)
    out.push_back({"unsubscribe", m.unsubscribe,
                   "bulk mail needs a one-click unsubscribe (RFC 8058): " +
                       (f.unsubscribe_problem.empty() ? std::string("List-Unsubscribe missing")
                                                      : f.unsubscribe_problem),
                   !f.list_unsubscribe         ? "no_list_unsubscribe"
                   : !f.list_unsubscribe_https ? "no_https"
                                               : "no_one_click"});
  if (!m.from_domains.empty() && std::find(m.from_domains.begin(), m.from_domains.end(),
                                           f.from_domain) == m.from_domains.end()) {
    std::string allowed;
    for (const auto& d : m.from_domains) allowed += (allowed.empty() ? "" : ", ") + d;
    out.push_back({"from_domain", m.from_domain,
                   "From domain " +
                       (f.from_domain.empty() ? std::string("(none)") : f.from_domain) +
                       " is not one stream " + stream_->name + " sends from (" + allowed + ")",
                   "not_allowed"});
  }
  return out;
}

MessageDecision MilterSession::end_of_message() {
  if (!scanner_) scanner_.emplace();
  const auto f = scanner_->finish();
  scanner_.reset();
  std::vector<CheckFinding> findings;
  if (!stream_) {
    std::string where = daemon_port_.empty() ? std::string("(Postfix sent no {daemon_port})")
                                             : "port " + daemon_port_;
    findings.push_back({"stream", runtime_->config->milter.unknown_stream,
                        "no stream is defined for submission " + where, "unknown_stream"});
    auto d = decide_message(std::move(findings));
    d.from_domain = f.from_domain;
    return d;
  }
  findings = dkim_findings(f);
  auto h = hygiene_findings(f);
  findings.insert(findings.end(), h.begin(), h.end());
  auto d = decide_message(std::move(findings));
  d.stream = stream_->name;
  d.from_domain = f.from_domain;
  if (stream_->mode == StreamMode::shadow && d.verdict != MilterVerdict::accept) {
    d.would = d.verdict;  // watched, not enforced: the findings are logged and counted
    d.verdict = MilterVerdict::accept;
  }
  if (d.verdict == MilterVerdict::accept)
    d.add_headers.emplace_back(runtime_->config->milter.header, stream_->name);
  return d;
}

}  // namespace sg
