// The backstop map (ctl/postfix_conf.hpp): a Postfix regexp: table that
// refuses at RCPT, in policyd's words, a recipient on a list every stream
// excludes.
#include <algorithm>
#include <filesystem>
#include <sstream>

#include "ctl/postfix_conf.hpp"
#include "rules/decision.hpp"

namespace sg {

namespace {

// Escapes the bytes POSIX extended regular expressions give a meaning to
// (and '/', the table's pattern delimiter). List entries are normalised
// domain names, so in practice only '.' needs it.
std::string regex_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}/").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// The text of a regexp: table result: "$" is Postfix's substitution mark.
std::string result_escape(std::string_view s) {
  std::string out;
  for (char c : s) out += c == '$' ? std::string("$$") : std::string(1, c);
  return out;
}

// Each pattern is matched against the whole recipient address. "@" then the
// domain up to the end (one optional trailing dot, as DomainList ignores
// one); [^@] keeps a match inside the domain after the last '@'. Group 1 is
// the domain, for the refusal text.
std::string domain_and_subdomains(std::string_view d) {
  return "@(([^@]*\\.)?" + regex_escape(d) + ")\\.?$";
}
std::string exact_domain(std::string_view d) {
  return "@(" + regex_escape(d) + ")\\.?$";
}
// "name.*": the label, then one or two labels of 1-3 ASCII letters that end
// the domain (DomainList's country/generic suffix rule).
std::string country_domain(std::string_view label) {
  return "@(([^@]*\\.)?" + regex_escape(label) + "(\\.[a-z]{1,3}){1,2})\\.?$";
}
// "*word*": the word anywhere in the domain (a word has no dot, so it lies
// inside one label). Group 1 stops before a trailing dot.
std::string label_contains(std::string_view word) {
  return "@([^@]*" + regex_escape(word) + "([^@]*[^@.])?)\\.?$";
}

// How policyd words a refusal for this list (rules/decision.hpp), with "$1"
// (the domain the pattern matched) for the domain and every stream excluding
// it: the backstop answers as policyd would.
std::string refusal_text(const std::string& list) {
  return "REJECT 5.7.1 streamguard: $1 " +
         result_escape(exclusion_text(list, "", "every stream").substr(1));
}

std::string file_name(const std::map<std::string, std::string>& files, const std::string& list) {
  auto it = files.find(list);
  if (it == files.end()) return "";
  return std::filesystem::path(it->second).filename().string();
}

}  // namespace

std::vector<std::string> backstop_lists(const Config& cfg) {
  std::vector<std::string> out;
  if (cfg.streams.empty()) return out;
  for (const auto& name : cfg.streams.front().exclude) {
    bool everywhere = std::all_of(cfg.streams.begin(), cfg.streams.end(), [&](const auto& s) {
      return std::find(s.exclude.begin(), s.exclude.end(), name) != s.exclude.end();
    });
    if (everywhere && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

std::string render_backstop_regexp(const std::vector<std::string>& names,
                                   const std::map<std::string, DomainList>& lists,
                                   const std::map<std::string, std::string>& files) {
  std::ostringstream o;
  o << "# streamguard backstop: Postfix regexp: table for check_recipient_access.\n"
    << "# Rendered by `streamguardctl postfix-conf` from streamguard.toml and its\n"
    << "# lists: do not edit by hand; change the list and render again.\n"
    << "#\n"
    << "# It refuses at RCPT a recipient on a list EVERY stream excludes, with the\n"
    << "# words streamguard-policyd would use. smtpd reads it itself (a regexp table\n"
    << "# needs no postmap), so it holds while streamguard-policyd is down.\n"
    << "# Each pattern is matched against the whole recipient address, without\n"
    << "# regard to case; $1 is the domain it matched. A list's exceptions ('!'\n"
    << "# lines) skip that list only: the `if !/.../` ... `endif` around it.\n";
  if (names.empty()) o << "#\n# No list is excluded by every stream: this table refuses nothing.\n";
  for (const auto& name : names) {
    auto it = lists.find(name);
    if (it == lists.end()) continue;
    const auto e = it->second.entries();
    const std::string file = file_name(files, name);
    const std::string result = refusal_text(name);
    o << "\n# ---- list " << name << (file.empty() ? "" : " (" + file + ")") << ": "
      << e.exact.size() + e.domains.size() + e.country.size() + e.contains.size() << " entries, "
      << e.exceptions.size() << " exception" << (e.exceptions.size() == 1 ? "" : "s") << "\n";
    if (!e.exceptions.empty()) {
      std::string alt;
      for (const auto& x : e.exceptions) alt += (alt.empty() ? "" : "|") + regex_escape(x);
      o << "if !/@([^@]*\\.)?(" << alt << ")\\.?$/\n";
    }
    for (const auto& d : e.exact) o << "/" << exact_domain(d) << "/ " << result << "\n";
    for (const auto& d : e.domains) o << "/" << domain_and_subdomains(d) << "/ " << result << "\n";
    for (const auto& l : e.country) o << "/" << country_domain(l) << "/ " << result << "\n";
    for (const auto& w : e.contains) o << "/" << label_contains(w) << "/ " << result << "\n";
    if (!e.exceptions.empty()) o << "endif\n";
  }
  return o.str();
}

}  // namespace sg
