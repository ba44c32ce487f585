#include "rules/result_match.hpp"

#include "common/text.hpp"

namespace sg::rules {

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    std::size_t j = 0;
    while (j < needle.size() && text::lower_char(hay[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

bool dsn_matches(std::string_view prefix, std::string_view dsn) {
  if (prefix.empty()) return true;
  if (!dsn.starts_with(prefix)) return false;
  return dsn.size() == prefix.size() || dsn[prefix.size()] == '.';
}

CompiledMatch::CompiledMatch(const ResultMatch& m) : m_(m) {
  for (const auto& t : m.text) text_lower_.push_back(text::lower(t));
  for (const auto& s : m.status)
    if (auto st = maillog::parse_status(s)) status_[static_cast<std::size_t>(*st)] = true;
}

bool CompiledMatch::matches(std::string_view op, maillog::Status status, std::string_view dsn,
                            std::string_view text) const {
  if (!status_[static_cast<std::size_t>(status)]) return false;
  if (!m_.op.empty() && m_.op != op) return false;
  bool dsn_ok = m_.dsn.empty();
  for (const auto& d : m_.dsn) dsn_ok = dsn_ok || dsn_matches(d, dsn);
  if (!dsn_ok) return false;
  if (text_lower_.empty()) return true;
  for (const auto& t : text_lower_)
    if (icontains(text, t)) return true;
  return false;
}

std::string CompiledMatch::describe() const {
  auto join = [](const std::vector<std::string>& v, bool quote) {
    std::string out;
    for (const auto& e : v) out += (out.empty() ? "" : " or ") + (quote ? "'" + e + "'" : e);
    return out;
  };
  std::string match;
  if (!m_.dsn.empty()) match += " dsn " + join(m_.dsn, false);
  if (!m_.text.empty())
    match += std::string(match.empty() ? "" : " and") + " text " + join(m_.text, true);
  return match.empty() ? "" : " matching" + match;
}

}  // namespace sg::rules
