// streamguardctl: thin command line over streamguard_ctl_core (the Postfix
// renderer, ctl/postfix_conf.hpp).
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "ctl/current_postfix.hpp"
#include "ctl/postfix_apply.hpp"
#include "ctl/postfix_conf.hpp"
#include "rules/classifier.hpp"

namespace {

constexpr const char* kHelp = R"(NAME
    streamguardctl - operator's tool for streamguard

SYNOPSIS
    streamguardctl postfix-conf --config FILE [--out DIR]
                   [--postfix-config DIR | --without-postfix]
    streamguardctl postfix-conf --config FILE --diff | --apply | --rollback
                   [--postfix-config DIR]
    streamguardctl --help | --version

DESCRIPTION
    postfix-conf renders the Postfix side of streamguard from the same
    configuration streamguard-policyd reads, so the submission ports, the
    stream transports and the excluded lists cannot drift apart. Everything
    it adds applies to the stream services only: inbound mail on port 25,
    staff submission on 587/465, pickup (cron mail) and local delivery keep
    main.cf's own settings.

    main.cf.fragment
        streamguard's own parameters, none of Postfix's:
        streamguard_recipient_restrictions (check_recipient_access with the
        backstop map, then check_policy_service for streamguard-policyd
        with [postfix] policy_service, policy_timeout, default_action, then
        the smtpd_recipient_restrictions main.cf has now, so
        permit_sasl_authenticated and the operator's own checks still
        apply); streamguard_shadow_recipient_restrictions when a stream is
        in shadow mode (the backstop only logs, policyd's default_action is
        DUNNO); streamguard_end_of_data_restrictions with [policyd] commit
        = "end_of_message"; streamguard_milters with a [milter] table.

    master.cf.fragment
        One smtpd service per port of every [[stream]] ("ADDR:PORT" with
        [postfix] listen_address; "smtp" for port 25), each with the
        stream's syslog_name, content_filter=TRANSPORT: and -o lines naming
        the streamguard_* parameters (milter_default_action=tempfail, or
        accept for a stream in shadow), and one smtp transport per stream
        with its smtp_bind_address and smtp_helo_name.

    streamguard-backstop.regexp
        A Postfix regexp: table refusing at RCPT (REJECT 5.7.1, in the words
        policyd uses) every recipient on a list that EVERY stream excludes,
        e.g. yahoo_family. smtpd reads it itself, so it holds while
        streamguard-policyd is down. It belongs in [postfix] backstop_dir,
        where main.cf.fragment points.

    A stream on port 25 needs [postfix] listen_address: port 25 on every
    address is where inbound mail arrives, and it would be charged to the
    stream and sent out through its transport. postfix-conf refuses it.

    Without --apply nothing is applied to Postfix: add the fragments to
    main.cf and master.cf, install the map, and run `postfix reload` (see
    postfix-conf/README.md).

    --diff, --apply and --rollback work on the Postfix configuration
    directory (--postfix-config DIR, else [rampd] postfix_config_dir, else
    /etc/postfix) with Postfix's own tools from [rampd]
    postfix_command_dir:

    --diff      Print each main.cf parameter and master.cf entry --apply
                would set, as it is now ("-") and as it would be ("+").
    --apply     Refuse while streamguard-policyd ([policyd] listen) or the
                milter ([milter] listen) does not answer. Keep main.cf and
                master.cf as they were before the first apply
                (main.cf.streamguard-orig, master.cf.streamguard-orig; a
                later apply leaves them), set the parameters with postconf
                -e and the entries with postconf -M (nothing else in the
                files changes), install the backstop map, run postfix check
                (on failure the files are put back) and reload Postfix if it
                runs.
    --rollback  Put main.cf.streamguard-orig and master.cf.streamguard-orig
                back byte for byte, check and reload. Mail still queued with
                a stream's content_filter would be stranded: its transports
                are added back (and named) until that mail has left; run
                --rollback again then.

OPTIONS
    --config FILE   The streamguard configuration (required). Its lists are
                    read too. See docs/configuration.md, [postfix] and a
                    stream's postfix = { ... }.
    --out DIR       Write main.cf.fragment, master.cf.fragment and
                    streamguard-backstop.regexp into DIR (created if
                    missing; files are replaced) and name what was written.
                    Without --out, the three are printed to standard output,
                    each after a "#### streamguardctl: FILE ####" line.
    --postfix-config DIR
                    Read the current smtpd_recipient_restrictions,
                    smtpd_relay_restrictions and inet_interfaces from the
                    Postfix configured in DIR (postconf -c DIR). Default:
                    [rampd] postfix_config_dir, else Postfix's own default
                    (/etc/postfix). postconf is run from [rampd]
                    postfix_command_dir (/usr/sbin).
    --without-postfix
                    Do not ask postconf: render as for a stock Postfix 3.6
                    (no smtpd_recipient_restrictions of its own). For a
                    machine without Postfix, e.g. to read the output first.
    --help          This text.
    --version       The version.

FILES
    /etc/streamguard/streamguard.toml       the usual --config
    /etc/postfix/streamguard-backstop.regexp
                                            where the map goes by default
                                            ([postfix] backstop_dir)
    postfix-conf/                           the rendering of
                                            deploy/examples/streamguard.toml,
                                            kept in the repository

EXIT STATUS
    0 when rendered (or diffed, applied, rolled back); 1 when the
    configuration or a list is invalid (each problem printed as
    FILE:LINE:COLUMN: message), postconf cannot be run, the rendering would
    break Postfix (a stream on port 25 of every address), an output file
    cannot be written, or --apply or --rollback is refused or fails (the
    files are then as they were); 2 on a usage error.

EXAMPLES
    streamguardctl postfix-conf --config /etc/streamguard/streamguard.toml | less
    streamguardctl postfix-conf --config deploy/examples/streamguard.toml \
        --without-postfix --out postfix-conf
    streamguardctl postfix-conf --config /etc/streamguard/streamguard.toml --diff
    streamguardctl postfix-conf --config /etc/streamguard/streamguard.toml --apply
)";

int usage(const std::string& msg) {
  std::cerr << "streamguardctl: " << msg << "\n"
            << "usage: streamguardctl postfix-conf --config FILE [--out DIR]\n"
            << "                      [--postfix-config DIR | --without-postfix]\n"
            << "       streamguardctl --help\n";
  return 2;
}

bool write_file(const std::filesystem::path& path, const std::string& text) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::cerr << "streamguardctl: cannot write " << tmp << ": " << std::strerror(errno) << "\n";
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::cerr << "streamguardctl: cannot write " << path.string() << ": " << ec.message() << "\n";
    std::filesystem::remove(tmp, ec);
    return false;
  }
  return true;
}

struct Options {
  std::optional<std::string> config, out, postfix_config;
  bool without_postfix = false;
  std::string action;  // "", "--diff", "--apply" or "--rollback"
};

// What main.cf has now: postconf's answer, or Postfix's defaults.
std::optional<sg::CurrentPostfix> current_postfix(const sg::Config& cfg, const Options& o) {
  if (o.without_postfix) return sg::CurrentPostfix{};
  std::string error;
  auto now =
      sg::read_current_postfix(cfg.rampd.postfix_command_dir,
                               o.postfix_config.value_or(cfg.rampd.postfix_config_dir), error);
  if (!now)
    std::cerr << "streamguardctl: cannot read the current Postfix settings: " << error
              << "\n(--postfix-config DIR names the Postfix configuration; --without-postfix "
                 "renders for a stock Postfix)\n";
  return now;
}

int postfix_conf(const Options& o) {
  const std::string& config_path = *o.config;
  const std::optional<std::string>& out_dir = o.out;
  auto loaded = sg::load_config(config_path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return 1;
  }
  const sg::Config& cfg = *loaded.config;

  std::map<std::string, sg::DomainList> lists;
  std::vector<sg::ListError> list_errors;
  for (const auto& name : sg::backstop_lists(cfg))
    lists.emplace(name, sg::DomainList::load(cfg.lists.at(name), list_errors));
  if (!list_errors.empty()) {
    for (const auto& e : list_errors) std::cerr << e.to_string() << "\n";
    return 1;
  }

  const auto now = current_postfix(cfg, o);
  if (!now) return 1;
  const auto conf = sg::render_postfix_conf(cfg, lists, *now);
  for (const auto& w : conf.warnings) std::cerr << "streamguardctl: warning: " << w << "\n";
  for (const auto& e : conf.errors) std::cerr << "streamguardctl: " << e << "\n";
  if (!conf.errors.empty()) return 1;
  if (!o.action.empty()) {
    const sg::ApplyTarget target{o.postfix_config.value_or(cfg.rampd.postfix_config_dir.empty()
                                                               ? std::string("/etc/postfix")
                                                               : cfg.rampd.postfix_config_dir),
                                 cfg.rampd.postfix_command_dir};
    if (o.action == "--diff") return sg::postfix_diff(cfg, conf, target);
    if (o.action == "--apply") return sg::postfix_apply(cfg, conf, target);
    return sg::postfix_rollback(cfg, conf, target);
  }

  std::vector<std::pair<std::string, const std::string*>> files = {
      {"main.cf.fragment", &conf.main_cf}, {"master.cf.fragment", &conf.master_cf}};
  for (const auto& m : conf.maps) files.emplace_back(m.file, &m.text);

  if (!out_dir) {
    for (const auto& [name, text] : files)
      std::cout << "#### streamguardctl: " << name << " ####\n" << *text << "\n";
    return 0;
  }
  std::error_code ec;
  std::filesystem::create_directories(*out_dir, ec);
  if (ec) {
    std::cerr << "streamguardctl: cannot create " << *out_dir << ": " << ec.message() << "\n";
    return 1;
  }
  for (const auto& [name, text] : files) {
    const auto path = std::filesystem::path(*out_dir) / name;
    if (!write_file(path, *text)) return 1;
    std::cout << "wrote " << path.string() << "\n";
  }
  std::cout << "next: add main.cf.fragment to main.cf and the services of master.cf.fragment "
               "to master.cf, install "
            << sg::kBackstopMapFile << " as " << cfg.postfix.backstop_dir << "/"
            << sg::kBackstopMapFile << ", then `postfix reload`\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage("a command is needed");
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      return 0;
    }
    if (a == "--version") {
      std::cout << "streamguardctl " << STREAMGUARD_VERSION << "\n";
      return 0;
    }
  }
  if (args[0] != "postfix-conf") return usage("unknown command '" + args[0] + "'");
  Options o;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::optional<std::string>& slot) {
      if (i + 1 >= args.size() || args[i + 1].empty()) return false;
      slot = args[++i];
      return true;
    };
    if (a == "--config") {
      if (o.config || !value(o.config)) return usage("--config needs one FILE");
    } else if (a == "--out") {
      if (o.out || !value(o.out)) return usage("--out needs one DIR");
    } else if (a == "--postfix-config") {
      if (o.postfix_config || !value(o.postfix_config))
        return usage("--postfix-config needs one DIR");
    } else if (a == "--without-postfix") {
      o.without_postfix = true;
    } else if (a == "--diff" || a == "--apply" || a == "--rollback") {
      if (!o.action.empty()) return usage("give one of --diff, --apply and --rollback");
      o.action = a;
    } else {
      return usage("unknown option '" + a + "'");
    }
  }
  if (!o.config) return usage("postfix-conf needs --config FILE");
  if (o.postfix_config && o.without_postfix)
    return usage("give --postfix-config or --without-postfix, not both");
  if (!o.action.empty() && (o.without_postfix || o.out))
    return usage(o.action + " works on the installed Postfix: not with --without-postfix or --out");
  return postfix_conf(o);
}
