// streamguardctl: thin command line over streamguard_ctl_core: postfix-conf
// (ctl/postfix_conf_command.hpp), enforce / shadow (ctl/stream_mode.hpp) and
// status (ctl/status_command.hpp).
#include <iostream>
#include <string>
#include <vector>

#include "ctl/audit_command.hpp"
#include "ctl/classify_command.hpp"
#include "ctl/explain_command.hpp"
#include "ctl/help.hpp"
#include "ctl/postfix_conf_command.hpp"
#include "ctl/report_command.hpp"
#include "ctl/status_command.hpp"
#include "ctl/stream_mode.hpp"
#include "ctl/suppress_command.hpp"

namespace {

int usage(const std::string& msg) {
  std::cerr
      << "streamguardctl: " << msg << "\n"
      << "usage: streamguardctl postfix-conf --config FILE [--out DIR]\n"
      << "                      [--postfix-config DIR | --without-postfix]\n"
      << "       streamguardctl postfix-conf --config FILE --diff | --apply | --rollback\n"
      << "       streamguardctl enforce | shadow STREAM --config FILE\n"
      << "       streamguardctl status | report --config FILE [--json]\n"
      << "       streamguardctl classify --config FILE IN.csv|- --column NAME --out DIR\n"
      << "       streamguardctl suppress show|add|remove|list|import|export ... --config FILE\n"
      << "       streamguardctl audit-log --config FILE --log MAILLOG [--since DATE]\n"
      << "       streamguardctl explain --config FILE --port PORT --recipient ADDRESS\n"
      << "       streamguardctl --help\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage("a command is needed");
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << sg::kCtlHelp;
      return 0;
    }
    if (a == "--version") {
      std::cout << "streamguardctl " << STREAMGUARD_VERSION << "\n";
      return 0;
    }
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "enforce") return sg::run_stream_mode(sg::StreamMode::enforce, rest);
  if (args[0] == "shadow") return sg::run_stream_mode(sg::StreamMode::shadow, rest);
  if (args[0] == "status") return sg::run_status(rest);
  if (args[0] == "report") return sg::run_report(rest);
  if (args[0] == "classify") return sg::run_classify(rest);
  if (args[0] == "suppress") return sg::run_suppress(rest);
  if (args[0] == "audit-log") return sg::run_audit_log(rest);
  if (args[0] == "explain") return sg::run_explain(rest);
  if (args[0] != "postfix-conf") return usage("unknown command '" + args[0] + "'");
  sg::PostfixConfOptions o;
  if (auto bad = sg::parse_postfix_conf_args(rest, o); !bad.empty()) return usage(bad);
  return sg::run_postfix_conf(o);
}
