#include "ctl/postfix_conf.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

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

// How policyd words a refusal for this list, with "$1" (the domain the
// pattern matched) for the domain: the backstop answers as policyd would. A
// wording that names the stream gets a generic one: the backstop serves all.
std::string refusal_text(const std::string& list) {
  auto text_for = [&](const std::string& stream_name) {
    StreamConfig s;
    s.name = stream_name;
    s.exclude = {list};
    Classification c;
    c.domain = "\x01";
    c.lists = {list};
    auto v = decide_exclusion(s, c);
    return v ? v->reply : std::string();
  };
  std::string reply = text_for("a");
  const std::string prefix = "REJECT 5.7.1 \x01 ";
  if (reply != text_for("b") || !reply.starts_with(prefix))
    return "REJECT 5.7.1 $1 is on the " + result_escape(list) +
           " list, which every stream excludes";
  return "REJECT 5.7.1 $1 " + result_escape(reply.substr(prefix.size()));
}

std::string file_name(const std::map<std::string, std::string>& files, const std::string& list) {
  auto it = files.find(list);
  if (it == files.end()) return "";
  return std::filesystem::path(it->second).filename().string();
}

// A master.cf service line in the stock column layout.
std::string service_line(const std::string& name, const std::string& type, const char* priv,
                         bool chroot, const std::string& command) {
  auto pad = [](std::string s, std::size_t width) {
    s += ' ';
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
  };
  return pad(name, 10) + pad(type, 6) + pad(priv, 8) + pad("-", 8) + pad(chroot ? "y" : "n", 8) +
         pad("-", 8) + pad("-", 8) + command + "\n";
}

std::string policy_service(const Config& cfg) {
  return "check_policy_service { " + cfg.postfix.policy_service +
         ", timeout=" + cfg.postfix.policy_timeout +
         ", default_action=" + cfg.postfix.default_action + ", policy_context=streamguard }";
}

const char* default_action_meaning(const std::string& action) {
  if (action == "DEFER_IF_PERMIT")
    return "DEFER_IF_PERMIT means \"try again later\", never a silent accept.";
  if (action == "DEFER") return "DEFER means \"try again later\" (4xx), never a silent accept.";
  if (action == "HOLD") return "HOLD accepts and parks the mail in the hold queue, uncounted.";
  if (action == "REJECT") return "REJECT refuses the recipient for good (5xx).";
  return "DUNNO accepts the recipient with NO cap applied while policyd is down.";
}

// With commit = "end_of_message", policyd is asked again at END-OF-MESSAGE.
void end_of_data_block(std::ostringstream& o, const Config& cfg) {
  if (cfg.policyd.commit != Commit::end_of_message) return;
  o << "\n"
    << "# [policyd] commit = \"end_of_message\": at RCPT policyd only reserves each\n"
    << "# recipient's share of the caps. Asked again here, once the message is\n"
    << "# complete, it commits the reservations of this transaction; reservations\n"
    << "# of a transaction that never gets here return to the budget after\n"
    << "# [policyd] reserve_ttl_s (" << cfg.policyd.reserve_ttl_s << " s).\n"
    << "smtpd_end_of_data_restrictions =\n"
    << "    " << policy_service(cfg) << "\n";
}

void milter_block(std::ostringstream& o, const Config& cfg) {
  const auto& pf = cfg.postfix;
  if (!cfg.milter.configured) return;
  std::string milters;
  for (const auto& m : pf.milters_before) milters += m + ", ";
  milters += pf.milter;
  o << "\n"
    << "# streamguard-milter runs after the milters listed before it (OpenDKIM):\n"
    << "# Postfix shows a milter the headers the milters before it added, so it\n"
    << "# can check that OpenDKIM's DKIM-Signature is really there. A milter that\n"
    << "# cannot be reached tempfails the message (milter_default_action), never\n"
    << "# lets it pass unchecked. {daemon_port} tells it the stream.\n"
    << "smtpd_milters = " << milters << "\n"
    << "milter_default_action = tempfail\n"
    << "milter_protocol = 6\n"
    << "milter_connect_macros = j {daemon_name} {daemon_addr} {daemon_port} v _\n";
}

std::string render_main_cf(const Config& cfg, const std::vector<std::string>& backstop) {
  const auto& pf = cfg.postfix;
  std::string lists;
  for (const auto& l : backstop) lists += (lists.empty() ? "" : ", ") + l;
  if (lists.empty()) lists = "none (no list is excluded by every stream)";
  std::ostringstream o;
  o << "# streamguard: main.cf lines for the outbound Postfix.\n"
    << "# Rendered by `streamguardctl postfix-conf` from streamguard.toml: do not\n"
    << "# edit by hand; change streamguard.toml (or a list) and render again, so the\n"
    << "# ports, transports and lists Postfix uses cannot drift from what\n"
    << "# streamguard-policyd enforces. Merge these lines into main.cf (each replaces\n"
    << "# the parameter of the same name), install " << kBackstopMapFile << " in\n"
    << "# " << pf.backstop_dir << ", then `postfix reload` (see postfix-conf/README.md).\n"
    << "\n"
    << "# Recipient restrictions, in this order:\n"
    << "# 1. The backstop: a recipient on a list every stream excludes is refused\n"
    << "#    by a regexp table smtpd reads itself, so it is refused even when\n"
    << "#    streamguard-policyd is down. (A transport_maps \"hold:\" backstop would\n"
    << "#    not work: a per-service content_filter overrides transport_maps.)\n"
    << "#    Lists: " << lists << ".\n"
    << "# 2. Ask streamguard-policyd at the RCPT stage, for every recipient.\n"
    << "#    - timeout: how long smtpd waits for an answer. policyd answers within its\n"
    << "#      Redis deadline ([redis] timeout_ms = " << cfg.redis.timeout_ms
    << ") even when Redis is down.\n"
    << "#    - default_action: what smtpd does if policyd itself cannot be reached.\n"
    << "#      " << default_action_meaning(pf.default_action) << "\n"
    << "#    - policy_context: shows up in policyd's request (Postfix 3.1+), handy\n"
    << "#      when one policyd serves several restriction lists.\n"
    << "# Both come before any permit_* that would end the list early for the\n"
    << "# submitting clients (Listmonk's Docker addresses are usually in mynetworks).\n"
    << "smtpd_recipient_restrictions =\n"
    << "    check_recipient_access regexp:" << pf.backstop_dir << "/" << kBackstopMapFile << "\n"
    << "    " << policy_service(cfg) << "\n"
    << "    permit_mynetworks\n"
    << "    reject_unauth_destination\n";
  end_of_data_block(o, cfg);
  milter_block(o, cfg);
  o << "\n"
    << "# The policy client keeps its connection open across many requests; these\n"
    << "# defaults are fine for policyd (it closes connections idle for "
    << cfg.policyd.idle_timeout_s << " s).\n"
    << "# smtpd_policy_service_max_idle = 300s\n"
    << "# smtpd_policy_service_max_ttl = 1000s\n";
  return o.str();
}

std::string render_master_cf(const Config& cfg) {
  const auto& pf = cfg.postfix;
  std::size_t port_w = 0, stream_w = 0;
  for (const auto& s : cfg.streams) {
    stream_w = std::max(stream_w, s.name.size());
    for (auto p : s.ports) port_w = std::max(port_w, std::to_string(p).size());
  }
  std::ostringstream o;
  o << "# streamguard: master.cf services, one submission port per stream.\n"
    << "# Rendered by `streamguardctl postfix-conf` from streamguard.toml: do not\n"
    << "# edit by hand (see postfix-conf/README.md). The port is what tells\n"
    << "# streamguard-policyd which stream a recipient belongs to (policyd reads the\n"
    << "# server_port attribute, Postfix 3.2+).\n"
    << "#\n";
  for (const auto& s : cfg.streams) {
    for (auto p : s.ports) {
      std::string port = std::to_string(p), name = s.name;
      port.resize(port_w, ' ');
      name.resize(stream_w, ' ');
      o << "# port " << port << " -> stream " << name << " -> transport " << s.postfix.transport
        << "\n";
    }
  }
  o << "#\n"
    << "# The per-service syslog_name makes each stream's lines easy to follow in\n"
    << "# mail.log. A per-service content_filter/transport overrides transport_maps,\n"
    << "# so a transport_maps \"hold:\" backstop never catches mail that came in on a\n"
    << "# stream port: the Yahoo-family backstop belongs at smtpd time (policyd's\n"
    << "# REJECT, or an smtpd access map: " << kBackstopMapFile << " in main.cf),\n"
    << "# not in transport_maps.\n";
  for (const auto& s : cfg.streams) {
    for (auto p : s.ports) {
      o << service_line(submission_service(pf, p), "inet", "n", pf.chroot, "smtpd")
        << "  -o syslog_name=" << s.postfix.syslog_name << "\n"
        << "  -o content_filter=" << s.postfix.transport << ":\n";
    }
  }
  o << "\n# Egress transports: one source IP and HELO per stream.\n";
  for (const auto& s : cfg.streams) {
    const auto& t = s.postfix;
    o << service_line(t.transport, "unix", "-", pf.chroot, "smtp") << "  -o syslog_name=postfix/"
      << t.transport << "\n";
    if (!t.bind_address.empty()) {
      const bool v6 = t.bind_address.find(':') != std::string::npos;
      o << "  -o smtp_bind_address" << (v6 ? "6=" : "=") << t.bind_address << "\n";
    }
    if (!t.helo_name.empty()) o << "  -o smtp_helo_name=" << t.helo_name << "\n";
  }
  return o.str();
}

// smtpd connects to [postfix] policy_service; policyd listens on [policyd]
// listen. They cannot be compared exactly (a unix path is relative to the
// queue directory), but a listen that cannot be the same socket is a mistake.
std::vector<std::string> check_policy_socket(const Config& cfg) {
  const std::string& ps = cfg.postfix.policy_service;
  bool seen = false;
  for (const auto& ep : cfg.policyd.listen) {
    if (ep.kind == Endpoint::Kind::unix_socket && ps.starts_with("unix:")) {
      const std::string rel = ps.substr(5);
      seen = seen || ep.path == rel || (!rel.starts_with("/") && ep.path.ends_with("/" + rel));
    } else if (ep.kind == Endpoint::Kind::tcp && ps.starts_with("inet:")) {
      seen = seen || ep.to_string() == ps;
    }
  }
  if (seen) return {};
  std::string listen;
  for (const auto& ep : cfg.policyd.listen) listen += (listen.empty() ? "" : ", ") + ep.to_string();
  return {"[postfix] policy_service = \"" + ps +
          "\" does not look like where streamguard-policyd listens ([policyd] listen: " + listen +
          "); a unix path is relative to Postfix's queue_directory"};
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

std::string submission_service(const PostfixConfig& pf, uint16_t port) {
  std::string name = port == 25 ? "smtp" : std::to_string(port);
  if (pf.listen_address.empty()) return name;
  if (pf.listen_address.find(':') != std::string::npos)
    return "[" + pf.listen_address + "]:" + name;
  return pf.listen_address + ":" + name;
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

PostfixConf render_postfix_conf(const Config& cfg, const std::map<std::string, DomainList>& lists) {
  PostfixConf out;
  const auto backstop = backstop_lists(cfg);
  out.main_cf = render_main_cf(cfg, backstop);
  out.master_cf = render_master_cf(cfg);
  out.maps.push_back({kBackstopMapFile, render_backstop_regexp(backstop, lists, cfg.lists)});
  out.warnings = check_policy_socket(cfg);
  for (const auto& name : backstop)
    if (!lists.count(name))
      out.warnings.push_back("list '" + name + "' was not loaded: the backstop map lacks it");
  return out;
}

}  // namespace sg
