// parse_submission (formats/maillog.hpp): the smtpd and pickup lines that
// tell where a message came in.
#include "formats/maillog.hpp"

namespace sg::maillog {

std::string_view Submission::service_name() const {
  std::string_view name = syslog_name;
  const auto last = name.rfind('/');
  return last == std::string_view::npos ? std::string_view() : name.substr(0, last);
}

std::optional<Submission> parse_submission(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.size() > kMaxLineBytes) return std::nullopt;
  Delivery d;
  std::string_view rest = line;
  if (!detail::read_prefix(rest, d)) return std::nullopt;
  const std::string_view program = d.program();
  if (program != "smtpd" && program != "pickup") return std::nullopt;
  // Postfix names itself: "postfix/pickup", "postfix/healthcare/smtpd". A
  // bare "pickup[2108]" is another program's line, and would have no
  // service to tell the stream by (found by maillog_fuzz).
  if (d.syslog_name.find('/') == std::string::npos) return std::nullopt;
  const auto colon = rest.find(": ");
  if (colon == std::string_view::npos || colon == 0 || colon > kMaxQueueIdBytes)
    return std::nullopt;
  const std::string_view id = rest.substr(0, colon);
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
      return std::nullopt;
  rest = rest.substr(colon + 2);
  const std::string_view key = program == "smtpd" ? "client=" : "uid=";
  if (!rest.starts_with(key)) return std::nullopt;
  Submission s;
  s.timestamp = std::move(d.timestamp);
  s.syslog_name = std::move(d.syslog_name);
  s.queue_id = std::string(id);
  s.pickup = program == "pickup";
  const auto end = s.pickup ? rest.find(' ') : rest.find(',');
  s.client =
      std::string(s.pickup ? rest.substr(0, end) : rest.substr(key.size(), end - key.size()));
  return s;
}

}  // namespace sg::maillog
