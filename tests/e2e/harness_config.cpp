// The harness's streamguard configuration (the one file policyd, the
// milter, rampd and streamguardctl read, as an operator's single
// streamguard.toml) and the Postfix side streamguardctl renders from it.
#include <sstream>
#include <stdexcept>

#include "tests/e2e/e2e_harness.hpp"

namespace sg::e2e {

std::string Harness::policyd_config() const {
  const std::string lists = std::string(SG_SOURCE_DIR) + "/deploy/lists/";
  std::ostringstream c;
  c << "timezone = \"UTC\"\n"
    << "log_level = \"info\"\n"
    << "[redis]\n"
    << "url = \"" << redis_ptr_->url() << "\"\n"
    << "timeout_ms = 250\n"
    // Most tests run policyd without rampd: nothing marks the Redis.
    << (opts_.redis.find("expect_rampd") == std::string::npos ? "expect_rampd = false\n" : "")
    << opts_.redis << "\n"
    << "[policyd]\n"
    << "listen = \"unix:" << policyd_socket_ << "\"\n"
    << "unknown_port = \"defer\"\n"
    << "status = \"unix:" << policyd_status_socket() << "\"\n"
    << opts_.policyd << "\n";
  if (dns_)
    c << "[dns]\nservers = [\"" << dns_->address() << "\"]\ntimeout_ms = 500\ntries = 1\n"
      << opts_.dns << "\n";
  else
    c << "[dns]\nenabled = false\n";
  c << "[lists]\n"
    << "yahoo_family = \"" << lists << "yahoo-family.txt\"\n"
    << "dead_isp = \"" << lists << "dead-isp.txt\"\n"
    << "consumer = \"" << lists << "consumer-webmail.txt\"\n"
    << "direct_hisp = \"" << lists << "direct-hisp.txt\"\n"
    << "[operators.google]\n"
    << "domains = [\"gmail.com\", \"googlemail.com\"]\n"
    << (dns_ ? "mx_suffixes = [\".google.com\"]\n" : "") << "[operators.microsoft]\n"
    << "domains = [\"outlook.com\", \"hotmail.com\", \"live.com\", \"msn.com\"]\n"
    << (dns_ ? "mx_suffixes = [\".mail.protection.outlook.com\"]\n" : "")
    << (dns_ ? "[operators.yahoo]\ndomains = [\"yahoo.com\"]\nmx_suffixes = [\".yahoodns.net\"]\n"
               "list = \"yahoo_family\"\n"
             : "")
    << (opts_.milter ? "[milter]\nlisten = \"unix:" + postfix_->queue_dir() +
                           "/private/streamguard-milter\"\nopendkim_conf = \"" + root_ +
                           "/opendkim/opendkim.conf\"\nstatus = \"unix:" + milter_status_socket() +
                           "\"\n" + opts_.milter_settings + "\n"
                     : std::string())
    << "[rampd]\n"
    << "status = \"unix:" << rampd_status_socket() << "\"\n"
    << "maillog = \"" << postfix_->log_path() << "\"\n"
    << "postfix_config_dir = \"" << postfix_->config_dir() << "\"\n"
    << "state_file = \"" << root_ << "/rampd-state.json\"\n"
    << opts_.rampd << "\n"
    << "[postfix]\n"
    << (opts_.milter ? "milters_before = [\"unix:opendkim/opendkim.sock\"]\n" : "")
    << "backstop_dir = \"" << postfix_conf_dir_ << "\"\n"
    << "listen_address = \"127.0.0.1\"\n"
    << "chroot = false\n"
    << "\n[[stream]]\n"
    << "name = \"trucking\"\n"
    << "ports = [" << ports_.at("trucking") << "]\n"
    << "exclude = [\"yahoo_family\", \"dead_isp\", \"direct_hisp\"]\n"
    << "postfix = { transport = \"out05\", syslog_name = \"postfix/trucking\", "
       "helo_name = \"mta05.example.com\", bind_address = \"127.0.0.1\" }\n"
    << opts_.trucking << "\n"
    << "\n[[stream]]\n"
    << "name = \"healthcare\"\n"
    << "ports = [" << ports_.at("healthcare") << "]\n"
    << "exclude = [\"yahoo_family\", \"dead_isp\", \"direct_hisp\", \"consumer\"]\n"
    << "postfix = { transport = \"hcout1\", syslog_name = \"postfix/healthcare\", "
       "helo_name = \"hcmta01.example.com\", bind_address = \"127.0.0.1\" }\n"
    << opts_.healthcare << "\n"
    << opts_.rules << "\n";
  return c.str();
}

void Harness::render_postfix_conf() const {
  auto r = run_command({SG_CTL_BIN, "postfix-conf", "--config", policyd_config_path_,
                        "--postfix-config", postfix_->config_dir(), "--out", postfix_conf_dir_},
                       30s);
  if (r.exit_code != 0 || r.output.find("warning") != std::string::npos)
    throw std::runtime_error("streamguardctl postfix-conf failed (exit " +
                             std::to_string(r.exit_code) + "):\n" + r.output);
}

}  // namespace sg::e2e
