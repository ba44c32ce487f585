#include "tests/e2e/postfix_instance.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace sg::e2e {

namespace {

// Postfix's internal services for a host with no chroot jail, and the
// postlogd service that file logging (maillog_file) needs.
constexpr const char* kBaseMasterCf =
    R"(# streamguard e2e: internal services (no chroot on a test host)
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
virtual   unix  -       n       n       -       -       virtual
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
)";

}  // namespace

PostfixInstance::PostfixInstance(PostfixOptions opts, Reaper& reaper)
    : opts_(std::move(opts)), reaper_(reaper) {
  config_dir_ = opts_.root + "/etc";
  queue_dir_ = opts_.root + "/spool";
  data_dir_ = opts_.root + "/data";
  log_path_ = opts_.root + "/maillog";
  // A name no other instance uses, from the folder's random suffix.
  std::string suffix = std::filesystem::path(opts_.root).filename().string();
  for (char& c : suffix)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
  hostname_ = suffix + ".e2e.test";
}

PostfixInstance::~PostfixInstance() {
  stop();
}

void PostfixInstance::write_main_cf() const {
  const std::string sink = "[127.0.0.1]:" + std::to_string(opts_.sink_port);
  std::ofstream out(config_dir_ + "/main.cf");
  out << "# streamguard e2e: a throwaway Postfix on loopback (tests/e2e/postfix_instance.cpp)\n"
      << "compatibility_level = 3.6\n"
      << "queue_directory = " << queue_dir_ << "\n"
      << "data_directory = " << data_dir_ << "\n"
      << "mail_owner = postfix\n"
      << "setgid_group = postdrop\n"
      << "myhostname = " << hostname_ << "\n"
      << "myorigin = $myhostname\n"
      << "mydestination =\n"
      << "local_recipient_maps =\n"
      << "alias_maps =\n"
      << "alias_database =\n"
      << "inet_interfaces = 127.0.0.1\n"
      << "inet_protocols = ipv4\n"
      << "mynetworks = 127.0.0.0/8\n"
      << "# Every message goes to the loopback sink: the stream transports\n"
      << "# (content_filter=out05:) name no next hop, so default_filter_nexthop\n"
      << "# gives it; relayhost covers Postfix's own notices.\n"
      << "default_filter_nexthop = " << sink << "\n"
      << "relayhost = " << sink << "\n"
      << "# Never DNS: no client name lookups, no MX or A lookups.\n"
      << "smtpd_peername_lookup = no\n"
      << "smtp_dns_support_level = disabled\n"
      << "maillog_file = " << log_path_ << "\n"
      << "maillog_file_prefixes = " << opts_.root << "\n"
      << "# No artificial pauses in a test.\n"
      << "smtpd_error_sleep_time = 0\n"
      << "in_flow_delay = 0\n"
      << "# The operator's own restrictions, for every service: the stream\n"
      << "# services get them after streamguard's.\n"
      << "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination\n"
      << "# A common setting: mail from pickup (cron, sendmail) sees the same\n"
      << "# milters as mail from smtpd. streamguard's milters are not among them.\n"
      << "non_smtpd_milters = $smtpd_milters\n"
      << "# This host's own domain: delivered here, not relayed.\n"
      << "virtual_mailbox_domains = " << kInboundDomain << "\n"
      << "virtual_mailbox_base = " << opts_.root << "/mailboxes\n"
      << "virtual_mailbox_maps = inline:{ " << kInboundMailbox << "=postmaster }\n"
      << "virtual_uid_maps = static:65534\n"
      << "virtual_gid_maps = static:65534\n";
  if (std::filesystem::exists(opts_.main_fragment))
    out << "\n# ---- " << opts_.main_fragment << ", verbatim ----\n" << slurp(opts_.main_fragment);
  if (!out) throw std::runtime_error("cannot write " + config_dir_ + "/main.cf");
}

void PostfixInstance::write_master_cf() const {
  // The fragment is used as streamguardctl rendered it: the test config gives
  // the services their loopback address and port and turns chroot off.
  std::ofstream out(config_dir_ + "/master.cf");
  out << kBaseMasterCf;
  if (opts_.staff_port)
    out << "# The operator's own submission service, not a stream's.\n"
        << "127.0.0.1:" << opts_.staff_port
        << " inet n       -       n       -       -       smtpd\n"
        << "  -o syslog_name=postfix/staff\n"
        << "  -o smtpd_sasl_auth_enable=yes\n"
        << "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n";
  if (opts_.inbound_port)
    out << "# Inbound mail for this host (port 25 on a real one).\n"
        << "127.0.0.1:" << opts_.inbound_port
        << " inet n       -       n       -       -       smtpd\n"
        << "  -o syslog_name=postfix/inbound\n";
  if (std::filesystem::exists(opts_.master_fragment))
    out << "\n# ---- " << opts_.master_fragment << ", verbatim ----\n"
        << slurp(opts_.master_fragment);
  if (!out) throw std::runtime_error("cannot write " + config_dir_ + "/master.cf");
}

void PostfixInstance::prepare_operator_services() const {
  // Debian's Postfix reads $config_directory/sasl/smtpd.conf (as
  // /etc/postfix/sasl/smtpd.conf on a host), whatever cyrus_sasl_config_path.
  const std::string sasl = config_dir_ + "/sasl", mailboxes = opts_.root + "/mailboxes";
  if (!std::filesystem::exists(sasl + "/sasldb2")) {
    std::filesystem::create_directories(sasl);
    std::ofstream(sasl + "/smtpd.conf") << "pwcheck_method: auxprop\n"
                                        << "auxprop_plugin: sasldb\n"
                                        << "mech_list: PLAIN LOGIN\n"
                                        << "sasldb_path: " << sasl << "/sasldb2\n";
    const std::string tool = find_tool("saslpasswd2");
    if (tool.empty())
      throw std::runtime_error("saslpasswd2 not found (scripts/install-deps installs sasl2-bin)");
    const std::string user(kStaffUser), at = user.substr(user.find('@') + 1);
    auto r =
        run_command({"/bin/sh", "-c",
                     "printf %s '" + std::string(kStaffPassword) + "' | " + tool + " -f " + sasl +
                         "/sasldb2 -p -c -u " + at + " " + user.substr(0, user.find('@'))},
                    30s);
    if (r.exit_code != 0) throw std::runtime_error("saslpasswd2 failed: " + r.output);
    // smtpd runs as postfix and must read it; a test secret.
    ::chmod((sasl + "/sasldb2").c_str(), 0644);
  }
  std::filesystem::create_directories(mailboxes);
  if (::chown(mailboxes.c_str(), 65534, 65534) != 0)
    throw std::runtime_error("cannot chown " + mailboxes);
}

std::string PostfixInstance::inbound_mailbox() const {
  return slurp(opts_.root + "/mailboxes/postmaster");
}

void PostfixInstance::write_config() const {
  // Modes set explicitly: under a umask like 002, Postfix's start-up check
  // would warn about group-writable configuration and queue folders.
  std::filesystem::create_directories(config_dir_);
  std::filesystem::create_directories(queue_dir_);
  std::filesystem::create_directories(data_dir_);
  ::chmod(config_dir_.c_str(), 0755);
  ::chmod(queue_dir_.c_str(), 0755);
  if (passwd* pw = ::getpwnam("postfix")) {
    if (::chown(data_dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("cannot chown " + data_dir_);
  } else {
    throw std::runtime_error("no 'postfix' user: is Postfix installed? (scripts/install-deps)");
  }
  ::chmod(data_dir_.c_str(), 0700);
  prepare_operator_services();
  write_main_cf();
  write_master_cf();
}

void PostfixInstance::start() {
  write_config();
  // Postfix will not read a main.cf modified within the current second (it
  // might still be being written): it re-reads every 300 ms until the file is
  // older, which costs each postfix/postconf command up to a second. Date the
  // files a minute back.
  for (const char* name : {"/main.cf", "/master.cf"}) {
    ::chmod((config_dir_ + name).c_str(), 0644);
    timespec times[2];
    ::clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= 60;
    times[1] = times[0];
    ::utimensat(AT_FDCWD, (config_dir_ + name).c_str(), times, 0);
  }

  auto r = command("postfix", {"start"});
  start_output_ = r.output;
  if (r.exit_code != 0)
    throw std::runtime_error("postfix start failed (exit " + std::to_string(r.exit_code) + "):\n" +
                             r.output + "\nlog:\n" + log());
  master_pid_ = read_master_pid();
  if (master_pid_ > 0) reaper_.watch_group(master_pid_);  // master is a session leader
  auto ports = opts_.stream_ports;
  if (opts_.staff_port) ports["staff"] = opts_.staff_port;
  if (opts_.inbound_port) ports["inbound"] = opts_.inbound_port;
  for (const auto& [stream, port] : ports) {
    uint16_t p = port;
    if (!wait_until([p] { return tcp_accepts(p); }, 10s))
      throw std::runtime_error("postfix does not answer on 127.0.0.1:" + std::to_string(port) +
                               " (" + stream + ")\nlog:\n" + log());
  }
}

void PostfixInstance::stop() {
  if (master_pid_ <= 0) return;
  command("postfix", {"stop"});
  // Whatever is left of the instance (a child still exiting) goes now.
  ::kill(-master_pid_, SIGKILL);
  reaper_.forget_group(master_pid_);
  master_pid_ = -1;
}

pid_t PostfixInstance::read_master_pid() const {
  std::string text = slurp(queue_dir_ + "/pid/master.pid");
  return static_cast<pid_t>(std::atoi(text.c_str()));
}

std::string PostfixInstance::log() const {
  return slurp(log_path_);
}

std::vector<std::string> PostfixInstance::log_lines(const std::vector<std::string>& needles) const {
  std::istringstream in(log());
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    bool all = true;
    for (const auto& n : needles) all = all && line.find(n) != std::string::npos;
    if (all) out.push_back(line);
  }
  return out;
}

bool PostfixInstance::wait_for_log(const std::vector<std::string>& needles,
                                   std::chrono::milliseconds limit) {
  return wait_until([&] { return !log_lines(needles).empty(); }, limit);
}

CommandResult PostfixInstance::command(const std::string& tool,
                                       const std::vector<std::string>& args) const {
  std::string path = find_tool(tool);
  if (path.empty())
    throw std::runtime_error("'" + tool +
                             "' not found: is Postfix installed? (scripts/install-deps)");
  std::vector<std::string> argv{path, "-c", config_dir_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, 30s);
}

std::vector<QueueEntry> PostfixInstance::queue() const {
  auto r = command("postqueue", {"-j"});
  if (r.exit_code != 0) throw std::runtime_error("postqueue -j failed:\n" + r.output);
  static const std::regex name_re("\"queue_name\": *\"([^\"]*)\"");
  static const std::regex id_re("\"queue_id\": *\"([^\"]*)\"");
  static const std::regex rcpt_re("\"address\": *\"([^\"]*)\"");
  std::vector<QueueEntry> out;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] != '{') continue;
    QueueEntry e;
    e.json = line;
    std::smatch m;
    if (std::regex_search(line, m, name_re)) e.queue_name = m[1];
    if (std::regex_search(line, m, id_re)) e.queue_id = m[1];
    for (std::sregex_iterator it(line.begin(), line.end(), rcpt_re), end; it != end; ++it)
      e.recipients.push_back((*it)[1]);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace sg::e2e
