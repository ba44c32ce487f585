// The main.cf and master.cf fragments (ctl/postfix_conf.hpp). Everything
// streamguard adds is scoped to the stream services: main.cf gets only
// parameters of its own (streamguard_*), which nothing reads until a stream
// service names them with -o in master.cf.
#include "ctl/postfix_conf.hpp"

#include <algorithm>
#include <sstream>

#include "formats/opendkim.hpp"

namespace sg {

namespace {

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

std::string policy_service(const Config& cfg, const std::string& default_action) {
  return "check_policy_service { " + cfg.postfix.policy_service +
         ", timeout=" + cfg.postfix.policy_timeout + ", default_action=" + default_action +
         ", policy_context=streamguard }";
}

const char* default_action_meaning(const std::string& action) {
  if (action == "DEFER_IF_PERMIT")
    return "DEFER_IF_PERMIT means \"try again later\", never a silent accept.";
  if (action == "DEFER") return "DEFER means \"try again later\" (4xx), never a silent accept.";
  if (action == "HOLD") return "HOLD accepts and parks the mail in the hold queue, uncounted.";
  if (action == "REJECT") return "REJECT refuses the recipient for good (5xx).";
  return "DUNNO accepts the recipient with NO cap applied while policyd is down.";
}

bool any_shadow(const Config& cfg) {
  return std::any_of(cfg.streams.begin(), cfg.streams.end(),
                     [](const StreamConfig& s) { return s.mode == StreamMode::shadow; });
}

// What follows streamguard's own entries in a stream service's recipient
// restrictions: the operator's smtpd_recipient_restrictions, so their own
// checks (permit_sasl_authenticated, RBLs, ...) still apply. With no relay
// restrictions either (a main.cf from before Postfix 2.10), relaying is
// refused as Postfix's stock settings do, never left open.
std::vector<std::string> operator_restrictions(const CurrentPostfix& now) {
  std::vector<std::string> out;
  if (!now.recipient_restrictions.empty()) out.push_back(now.recipient_restrictions);
  if (now.recipient_restrictions.empty() && now.relay_restrictions.empty())
    out = {"permit_mynetworks", "permit_sasl_authenticated", "reject_unauth_destination"};
  return out;
}

void restriction_list(std::ostringstream& o, const std::string& name, const Config& cfg,
                      const CurrentPostfix& now, bool shadow) {
  o << name << " =\n"
    << "    " << (shadow ? "warn_if_reject " : "")
    << "check_recipient_access regexp:" << cfg.postfix.backstop_dir << "/" << kBackstopMapFile
    << "\n"
    << "    " << policy_service(cfg, shadow ? "DUNNO" : cfg.postfix.default_action) << "\n";
  for (const auto& r : operator_restrictions(now)) o << "    " << r << "\n";
}

void recipient_block(std::ostringstream& o, const Config& cfg,
                     const std::vector<std::string>& backstop, const CurrentPostfix& now) {
  std::string lists;
  for (const auto& l : backstop) lists += (lists.empty() ? "" : ", ") + l;
  if (lists.empty()) lists = "none (no list is excluded by every stream)";
  const std::string theirs = now.recipient_restrictions.empty()
                                 ? "none (relay control is smtpd_relay_restrictions' job)"
                                 : now.recipient_restrictions;
  o << "\n# A stream service's recipient restrictions, in this order:\n"
    << "# 1. The backstop: a recipient on a list every stream excludes is refused\n"
    << "#    by a regexp table smtpd reads itself, so it is refused even when\n"
    << "#    streamguard-policyd is down. Lists: " << lists << ".\n"
    << "# 2. Ask streamguard-policyd at the RCPT stage, for every recipient. It\n"
    << "#    answers within its Redis deadline ([redis] timeout_ms = " << cfg.redis.timeout_ms
    << ")\n"
    << "#    even when Redis is down. default_action is what smtpd does when\n"
    << "#    policyd cannot be reached:\n"
    << "#    " << default_action_meaning(cfg.postfix.default_action) << "\n"
    << "# 3. main.cf's own smtpd_recipient_restrictions, as " << now.source << "\n"
    << "#    showed them: " << theirs << "\n"
    << "#    Render again after changing them: this is a copy.\n";
  if (now.recipient_restrictions.empty() && now.relay_restrictions.empty())
    o << "#    main.cf has no smtpd_relay_restrictions either: the stream services\n"
      << "#    refuse relaying as Postfix's stock settings do.\n";
  restriction_list(o, "streamguard_recipient_restrictions", cfg, now, false);
  if (any_shadow(cfg)) {
    o << "\n# The same for a stream in shadow mode: the backstop only logs\n"
      << "# (warn_if_reject: \"reject_warning\" in the mail log), policyd answers DUNNO\n"
      << "# and counts what it would have done, and mail passes if policyd is down.\n";
    restriction_list(o, "streamguard_shadow_recipient_restrictions", cfg, now, true);
  }
}

// With commit = "end_of_message", policyd is asked again at END-OF-MESSAGE.
void end_of_data_block(std::ostringstream& o, const Config& cfg, const CurrentPostfix& now) {
  if (cfg.policyd.commit != Commit::end_of_message) return;
  o << "\n"
    << "# [policyd] commit = \"end_of_message\": at RCPT policyd only reserves each\n"
    << "# recipient's share of the caps. Asked again here, once the message is\n"
    << "# complete, it commits the reservations of this transaction; reservations\n"
    << "# of a transaction that never gets here return to the budget after\n"
    << "# [policyd] reserve_ttl_s (" << cfg.policyd.reserve_ttl_s << " s).\n"
    << "streamguard_end_of_data_restrictions =\n"
    << "    " << policy_service(cfg, cfg.postfix.default_action) << "\n";
  if (!now.end_of_data_restrictions.empty()) o << "    " << now.end_of_data_restrictions << "\n";
}

void milter_block(std::ostringstream& o, const Config& cfg, const CurrentPostfix& now) {
  if (!cfg.milter.configured) return;
  std::string milters;
  for (const auto& m : cfg.postfix.milters_before) milters += m + ", ";
  milters += cfg.postfix.milter;
  o << "\n"
    << "# A stream service's milters: streamguard-milter after the ones listed\n"
    << "# before it (OpenDKIM): Postfix shows a milter the headers the milters\n"
    << "# before it added, so it can check that OpenDKIM's DKIM-Signature is\n"
    << "# really there. {daemon_port} tells it the stream. main.cf's own\n"
    << "# smtpd_milters and non_smtpd_milters (staff submission, cron mail) are\n"
    << "# not touched.\n"
    << "streamguard_milters = " << milters << "\n"
    << "streamguard_milter_connect_macros = j {daemon_name} {daemon_addr} {daemon_port} v _\n"
    << "\n"
    << "# A stream transport's header checks: the milter's " << cfg.milter.header << "\n"
    << "# stays inside this MTA (postcat shows it); " << kEgressHeadersFile << "\n"
    << "# removes it as the mail leaves, so no receiver sees a stream name. main.cf's\n"
    << "# own smtp_header_checks follow, as " << now.source
    << " showed them: " << (now.smtp_header_checks.empty() ? "none" : now.smtp_header_checks)
    << ".\n"
    << "streamguard_smtp_header_checks = regexp:" << cfg.postfix.backstop_dir << "/"
    << kEgressHeadersFile << (now.smtp_header_checks.empty() ? "" : ", " + now.smtp_header_checks)
    << "\n";
}

// The milter's stream tag, removed as the mail leaves (smtp_header_checks):
// the name of a stream tells a receiver how the sender splits its mail.
std::string render_egress_headers(const Config& cfg) {
  // [milter] header is 1-64 of A-Z a-z 0-9 - (config_milter.cpp): nothing to
  // escape, and regexp: tables match without regard to case.
  return "# streamguard: the headers the stream transports remove as mail leaves.\n"
         "# Rendered by `streamguardctl postfix-conf` from streamguard.toml ([milter]\n"
         "# header): do not edit by hand.\n"
         "/^" +
         cfg.milter.header + ":/ IGNORE\n";
}

std::string render_main_cf(const Config& cfg, const std::vector<std::string>& backstop,
                           const CurrentPostfix& now) {
  std::ostringstream o;
  o << "# streamguard: main.cf parameters for the stream services.\n"
    << "# Rendered by `streamguardctl postfix-conf` from streamguard.toml: do not\n"
    << "# edit by hand; change streamguard.toml (or a list) and render again.\n"
    << "#\n"
    << "# These parameters are streamguard's own (streamguard_*): they change\n"
    << "# nothing by themselves and replace no Postfix parameter. Only the stream\n"
    << "# services of master.cf.fragment use them (-o smtpd_recipient_restrictions=\n"
    << "# $streamguard_recipient_restrictions, ...); inbound mail, staff\n"
    << "# submission, pickup and local delivery keep main.cf's own settings.\n"
    << "# Add these lines to main.cf, install " << kBackstopMapFile << " in\n"
    << "# " << cfg.postfix.backstop_dir
    << ", then `postfix reload` (see postfix-conf/README.md).\n";
  recipient_block(o, cfg, backstop, now);
  end_of_data_block(o, cfg, now);
  milter_block(o, cfg, now);
  o << "\n"
    << "# The policy client keeps its connection open across many requests; Postfix's\n"
    << "# defaults are fine for policyd (it closes connections idle for "
    << cfg.policyd.idle_timeout_s << " s):\n"
    << "# smtpd_policy_service_max_idle = 300s, smtpd_policy_service_max_ttl = 1000s.\n";
  return o.str();
}

// The -o lines that scope streamguard to one stream service.
void stream_service_options(std::ostringstream& o, const Config& cfg, const StreamConfig& s) {
  const bool shadow = s.mode == StreamMode::shadow;
  o << "  -o syslog_name=" << s.postfix.syslog_name << "\n"
    << "  -o content_filter=" << s.postfix.transport << ":\n"
    << "  -o smtpd_recipient_restrictions=$streamguard_" << (shadow ? "shadow_" : "")
    << "recipient_restrictions\n";
  if (cfg.policyd.commit == Commit::end_of_message)
    o << "  -o smtpd_end_of_data_restrictions=$streamguard_end_of_data_restrictions\n";
  if (!cfg.milter.configured) return;
  // The daemon name names the stream to the milter besides the port, and it
  // is what OpenDKIM's MTA list matches (check_opendkim_mta).
  o << "  -o smtpd_milters=$streamguard_milters\n"
    << "  -o milter_connect_macros=$streamguard_milter_connect_macros\n"
    << "  -o milter_macro_daemon_name=" << s.name << "\n"
    << "  -o milter_default_action=" << (shadow ? "accept" : "tempfail") << "\n"
    << "  -o milter_protocol=6\n";
}

void stream_comments(std::ostringstream& o, const Config& cfg) {
  std::size_t port_w = 0, stream_w = 0;
  for (const auto& s : cfg.streams) {
    stream_w = std::max(stream_w, s.name.size());
    for (auto p : s.ports) port_w = std::max(port_w, submission_service(cfg.postfix, p).size());
  }
  for (const auto& s : cfg.streams) {
    for (auto p : s.ports) {
      std::string service = submission_service(cfg.postfix, p), name = s.name;
      service.resize(port_w, ' ');
      name.resize(stream_w, ' ');
      o << "# " << service << " -> stream " << name << " -> transport " << s.postfix.transport
        << (s.mode == StreamMode::shadow ? "  (shadow)" : "") << "\n";
    }
  }
}

std::string render_master_cf(const Config& cfg) {
  const auto& pf = cfg.postfix;
  std::ostringstream o;
  o << "# streamguard: master.cf services, one submission service per stream port.\n"
    << "# Rendered by `streamguardctl postfix-conf` from streamguard.toml: do not\n"
    << "# edit by hand (see postfix-conf/README.md). The port is what tells\n"
    << "# streamguard-policyd which stream a recipient belongs to (policyd reads the\n"
    << "# server_port attribute, Postfix 3.2+).\n"
    << "#\n";
  stream_comments(o, cfg);
  o << "#\n"
    << "# Each service carries streamguard's restrictions and milters itself (-o,\n"
    << "# from main.cf.fragment's streamguard_* parameters): no other service of\n"
    << "# master.cf is changed. Add these entries; an entry of the same name and\n"
    << "# type that master.cf already has is the one they replace.\n";
  for (const auto& s : cfg.streams) {
    for (auto p : s.ports) {
      o << service_line(submission_service(pf, p), "inet", "n", pf.chroot, "smtpd");
      stream_service_options(o, cfg, s);
    }
  }
  o << "\n# Egress transports: one source IP and HELO per stream"
    << (cfg.milter.configured ? "; each removes the\n# milter's stream tag as mail leaves" : "")
    << ".\n";
  for (const auto& s : cfg.streams) {
    const auto& t = s.postfix;
    o << service_line(t.transport, "unix", "-", pf.chroot, "smtp") << "  -o syslog_name=postfix/"
      << t.transport << "\n";
    if (!t.bind_address.empty()) {
      const bool v6 = t.bind_address.find(':') != std::string::npos;
      o << "  -o smtp_bind_address" << (v6 ? "6=" : "=") << t.bind_address << "\n";
    }
    if (!t.helo_name.empty()) o << "  -o smtp_helo_name=" << t.helo_name << "\n";
    if (cfg.milter.configured) o << "  -o smtp_header_checks=$streamguard_smtp_header_checks\n";
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

// Whether inet_interfaces ("all", or addresses and names separated by commas
// or spaces) takes in this address.
bool receives_on(const std::string& inet_interfaces, const std::string& address) {
  std::istringstream words(inet_interfaces);
  for (std::string w; words >> w;) {
    while (!w.empty() && w.back() == ',') w.pop_back();
    if (w == "all" || w == address || w == "[" + address + "]") return true;
  }
  return false;
}

// Port 25 is where a Postfix receives mail from the world. A stream service
// that takes it on every address would charge inbound mail (bounces, DMARC
// reports, abuse@) to the stream and send it out through its transport.
void check_port_25(const Config& cfg, const CurrentPostfix& now, PostfixConf& out) {
  for (const auto& s : cfg.streams) {
    if (std::find(s.ports.begin(), s.ports.end(), 25) == s.ports.end()) continue;
    if (cfg.postfix.listen_address.empty()) {
      out.errors.push_back(
          "stream " + s.name +
          " submits on port 25 on every address: that is Postfix's smtp service, where "
          "inbound mail (bounces, DMARC reports, abuse@) arrives, and it would be charged to " +
          s.name + " and sent out through " + s.postfix.transport +
          ". Set [postfix] listen_address to the address the stream's clients connect to (e.g. "
          "the Docker bridge address Listmonk reaches the host on), or give the stream another "
          "port");
      continue;
    }
    if (receives_on(now.inet_interfaces, cfg.postfix.listen_address))
      out.warnings.push_back(
          "inet_interfaces = " + now.inet_interfaces +
          ": Postfix's own smtp service listens on port 25 of " + cfg.postfix.listen_address +
          " too, so " + submission_service(cfg.postfix, 25) +
          " cannot bind next to it. List the addresses the smtp service should receive on in "
          "inet_interfaces (without " +
          cfg.postfix.listen_address +
          "), or name the inbound service by its address in "
          "master.cf (203.0.113.5:smtp)");
  }
}

// OpenDKIM signs mail from the daemon names in its MTA list whatever the
// client address. The stream services call themselves by the stream's name
// (milter_macro_daemon_name), so a list written for $myhostname no longer
// matches them: say so before the milter starts refusing unsigned mail.
void check_opendkim_mta(const Config& cfg, PostfixConf& out) {
  if (!cfg.milter.configured || cfg.milter.opendkim_conf.empty()) return;
  const auto dkim = dkim::load_opendkim(cfg.milter.opendkim_conf);
  if (!dkim.config || !dkim.config->mta) return;  // --check-config reports a broken file
  for (const auto& s : cfg.streams)
    if (!dkim.config->mta->find(s.name))
      out.warnings.push_back(
          "OpenDKIM's MTA list (" + dkim.config->mta->spec + " in " + cfg.milter.opendkim_conf +
          ") does not name " + s.name + ": the stream's services give OpenDKIM the daemon name " +
          s.name +
          " (milter_macro_daemon_name), so OpenDKIM signs their mail only when the "
          "client is in InternalHosts. Add " +
          s.name +
          " to MTA if it signed this mail by "
          "daemon name");
}

}  // namespace

std::string submission_service(const PostfixConfig& pf, uint16_t port) {
  std::string name = port == 25 ? "smtp" : std::to_string(port);
  if (pf.listen_address.empty()) return name;
  if (pf.listen_address.find(':') != std::string::npos)
    return "[" + pf.listen_address + "]:" + name;
  return pf.listen_address + ":" + name;
}

PostfixConf render_postfix_conf(const Config& cfg, const std::map<std::string, DomainList>& lists,
                                const CurrentPostfix& now) {
  PostfixConf out;
  const auto backstop = backstop_lists(cfg);
  out.main_cf = render_main_cf(cfg, backstop, now);
  out.master_cf = render_master_cf(cfg);
  out.maps.push_back({kBackstopMapFile, render_backstop_regexp(backstop, lists, cfg.lists)});
  if (cfg.milter.configured) out.maps.push_back({kEgressHeadersFile, render_egress_headers(cfg)});
  out.warnings = check_policy_socket(cfg);
  check_port_25(cfg, now, out);
  check_opendkim_mta(cfg, out);
  for (const auto& name : backstop)
    if (!lists.count(name))
      out.warnings.push_back("list '" + name + "' was not loaded: the backstop map lacks it");
  return out;
}

}  // namespace sg
