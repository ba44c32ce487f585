// The Postfix side of streamguard, rendered from the same configuration the
// daemons read (`streamguardctl postfix-conf`), so the submission ports, the
// transports and the lists in Postfix cannot drift from what policyd enforces.
// Everything is scoped to the stream services; no other service changes:
//
//   main.cf    streamguard_* parameters only, none of Postfix's own:
//              streamguard_recipient_restrictions (the backstop map, then
//              check_policy_service, then main.cf's own
//              smtpd_recipient_restrictions), a shadow variant that only
//              logs, streamguard_end_of_data_restrictions (commit =
//              "end_of_message"), streamguard_milters and
//              streamguard_smtp_header_checks.
//   master.cf  one smtpd service per stream port, naming those parameters
//              with -o (plus its syslog_name and content_filter = the
//              stream's egress transport), and one smtp transport per stream
//              (its bind address and HELO name, and the header checks that
//              remove the milter's stream tag on the way out).
//   backstop   streamguard-backstop.regexp, a Postfix regexp: table refusing
//              at RCPT the lists EVERY stream excludes; smtpd reads it itself,
//              so it holds when policyd is down. (A transport_maps backstop
//              would not: a per-service content_filter overrides transport_maps.)
//   egress     streamguard-egress-headers.regexp (with the milter): the stream
//              transports IGNORE [milter] header, so no receiver ever sees
//              an internal stream name.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "rules/classifier.hpp"

namespace sg {

struct PostfixConf {
  std::string main_cf;    // main.cf.fragment
  std::string master_cf;  // master.cf.fragment
  struct Map {
    std::string file;  // file name, installed in [postfix] backstop_dir
    std::string text;
  };
  std::vector<Map> maps;
  // Things that render fine but look wrong (e.g. policyd does not listen where
  // smtpd is told to connect). For a person, not fatal.
  std::vector<std::string> warnings;
  // What would break the Postfix it is merged into (a stream taking port 25
  // on every address): nothing should be written.
  std::vector<std::string> errors;
};

// What the installed Postfix has now, that the stream services are composed
// with (postconf -h). The defaults are a stock Postfix 3.6.
struct CurrentPostfix {
  std::string recipient_restrictions;  // smtpd_recipient_restrictions, as written
  std::string end_of_data_restrictions;
  std::string smtp_header_checks;  // as written: the stream transports keep applying it
  // smtpd_relay_restrictions, expanded: empty only on a main.cf from
  // before Postfix 2.10, whose recipient restrictions do the relay control.
  std::string relay_restrictions =
      "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination";
  std::string inet_interfaces;                // "" when not read: not checked
  std::string source = "Postfix's defaults";  // where these came from, for the comments
};

inline constexpr const char* kBackstopMapFile = "streamguard-backstop.regexp";
inline constexpr const char* kEgressHeadersFile = "streamguard-egress-headers.regexp";

// The lists every stream excludes, in the first stream's order: the backstop.
std::vector<std::string> backstop_lists(const Config& cfg);

// The master.cf service name of a submission port: "smtp" for 25, else the
// number; "ADDR:NAME" ("[ADDR]:NAME" for IPv6) with [postfix] listen_address.
std::string submission_service(const PostfixConfig& pf, uint16_t port);

// The regexp: table for these lists, in this order. `files` (optional) names
// each list's file for the comments; only the file name is shown, so the
// output does not depend on where the configuration lives.
std::string render_backstop_regexp(const std::vector<std::string>& names,
                                   const std::map<std::string, DomainList>& lists,
                                   const std::map<std::string, std::string>& files = {});

// `lists` must hold every list backstop_lists(cfg) names (others are ignored).
PostfixConf render_postfix_conf(const Config& cfg, const std::map<std::string, DomainList>& lists,
                                const CurrentPostfix& now = {});

}  // namespace sg
