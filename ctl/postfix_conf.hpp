// The Postfix side of streamguard, rendered from the same configuration the
// daemons read (`streamguardctl postfix-conf`), so the submission ports, the
// transports and the lists in Postfix cannot drift from what policyd enforces:
//
//   main.cf    smtpd_recipient_restrictions: the backstop map first, then
//              check_policy_service for streamguard-policyd (and, with
//              [policyd] commit = "end_of_message", smtpd_end_of_data_restrictions).
//   master.cf  one smtpd service per stream port (its syslog_name and its
//              content_filter = the stream's egress transport), and one smtp
//              transport per stream (its bind address and HELO name).
//   backstop   streamguard-backstop.regexp, a Postfix regexp: table refusing
//              at RCPT the lists EVERY stream excludes; smtpd reads it itself,
//              so it holds when policyd is down. (A transport_maps backstop
//              would not: a per-service content_filter overrides transport_maps.)
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
};

inline constexpr const char* kBackstopMapFile = "streamguard-backstop.regexp";

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
PostfixConf render_postfix_conf(const Config& cfg, const std::map<std::string, DomainList>& lists);

}  // namespace sg
