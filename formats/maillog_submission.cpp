// parse_submission and parse_milter_refusal (formats/maillog.hpp): the smtpd
// and pickup lines that tell where a message came in, and the cleanup (or
// smtpd) lines that say a milter refused one.
#include "formats/maillog.hpp"

namespace sg::maillog {

namespace {

std::string_view service_of(std::string_view syslog_name) {
  const auto last = syslog_name.rfind('/');
  return last == std::string_view::npos ? std::string_view() : syslog_name.substr(0, last);
}

// The prefix and "QID: " of a line Postfix's `program` (or one of `other`)
// logged; `rest` is left after the queue id. "" when the line is not one.
std::string_view read_postfix_line(std::string_view& line, Delivery& d, std::string_view program,
                                   std::string_view other = {}) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.size() > kMaxLineBytes) return {};
  if (!detail::read_prefix(line, d)) return {};
  if (d.program() != program && (other.empty() || d.program() != other)) return {};
  // Postfix names itself: "postfix/pickup", "postfix/healthcare/smtpd". A
  // bare "pickup[2108]" is another program's line, and would have no
  // service to tell the stream by (found by maillog_fuzz).
  if (d.syslog_name.find('/') == std::string::npos) return {};
  const auto colon = line.find(": ");
  if (colon == std::string_view::npos || colon == 0 || colon > kMaxQueueIdBytes) return {};
  const std::string_view id = line.substr(0, colon);
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return {};
  line = line.substr(colon + 2);
  return id;
}

}  // namespace

std::optional<MilterRefusal> parse_milter_refusal(std::string_view line) {
  Delivery d;
  std::string_view rest = line;
  const std::string_view id = read_postfix_line(rest, d, "cleanup", "smtpd");
  // NOQUEUE: refused before Postfix opened a queue file (RCPT, DATA), so
  // no message was ever accepted under an id.
  if (id.empty() || id == "NOQUEUE") return std::nullopt;
  constexpr std::string_view kTag = "milter-reject: ";
  if (!rest.starts_with(kTag)) return std::nullopt;
  rest.remove_prefix(kTag.size());
  const auto from = rest.find(" from ");
  if (from == std::string_view::npos || from == 0) return std::nullopt;
  const std::string_view stage = rest.substr(0, from);
  for (char c : stage)
    if (!((c >= 'A' && c <= 'Z') || c == '-')) return std::nullopt;
  rest.remove_prefix(from + 6);
  // "host[addr]: REPLY; from=<...> to=<...> ...": the reply runs from the
  // client's "]: " to the "; " before the envelope.
  const auto client_end = rest.find("]: ");
  if (client_end == std::string_view::npos) return std::nullopt;
  rest.remove_prefix(client_end + 3);
  const auto reply_end = rest.rfind("; from=<");
  MilterRefusal m;
  m.timestamp = std::move(d.timestamp);
  m.syslog_name = std::move(d.syslog_name);
  m.queue_id = std::string(id);
  m.stage = std::string(stage);
  m.reply = std::string(reply_end == std::string_view::npos ? rest : rest.substr(0, reply_end));
  return m;
}

std::string_view Submission::service_name() const {
  return service_of(syslog_name);
}

std::optional<Submission> parse_submission(std::string_view line) {
  Delivery d;
  std::string_view rest = line;
  const std::string_view id = read_postfix_line(rest, d, "smtpd", "pickup");
  if (id.empty()) return std::nullopt;
  Submission s;
  s.pickup = d.program() == "pickup";
  const std::string_view key = s.pickup ? "uid=" : "client=";
  if (!rest.starts_with(key)) return std::nullopt;
  s.timestamp = std::move(d.timestamp);
  s.syslog_name = std::move(d.syslog_name);
  s.queue_id = std::string(id);
  const auto end = s.pickup ? rest.find(' ') : rest.find(',');
  s.client =
      std::string(s.pickup ? rest.substr(0, end) : rest.substr(key.size(), end - key.size()));
  return s;
}

}  // namespace sg::maillog
