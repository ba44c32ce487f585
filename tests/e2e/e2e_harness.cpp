#include "tests/e2e/e2e_harness.hpp"

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace sg::e2e {

namespace {

std::string tail(const std::string& text, std::size_t max_chars = 6000) {
  return text.size() <= max_chars ? text : "...\n" + text.substr(text.size() - max_chars);
}

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

// Whether the postfix user is a member of group `gid` (as smtpd runs).
bool postfix_in_group(gid_t gid) {
  const passwd* pf = ::getpwnam("postfix");
  if (!pf) return false;
  int n = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(n));
  if (::getgrouplist("postfix", pf->pw_gid, groups.data(), &n) < 0) return false;
  groups.resize(static_cast<std::size_t>(n));
  return std::find(groups.begin(), groups.end(), gid) != groups.end();
}

}  // namespace

std::string Submission::reply_to(const std::string& address) const {
  for (const auto& r : rcpts)
    if (r.address == address) return r.reply;
  return "";
}

Harness::Harness(HarnessOptions opts) : opts_(std::move(opts)) {
  swaks_ = find_tool("swaks");
  if (swaks_.empty())
    throw std::runtime_error("swaks not found (scripts/install-deps installs it)");
  if (find_tool("postfix").empty())
    throw std::runtime_error("postfix not found (scripts/install-deps installs it)");

  char tmpl[] = "/tmp/sg-e2e-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  root_ = tmpl;
  reaper_.watch_dir(root_);
  ::chmod(root_.c_str(), 0755);  // Postfix's unprivileged daemons work below it

  sink_ = std::make_unique<SmtpSink>();
  if (opts_.shared_redis) {
    redis_ptr_ = opts_.shared_redis;
  } else {
    redis_ = std::make_unique<sg::testing::RedisServer>(opts_.redis_server_args);
    redis_ptr_ = redis_.get();
    reaper_.watch_pid(redis_->pid());
    redis_dir_ = std::filesystem::path(redis_->socket_path()).parent_path().string();
    reaper_.watch_dir(redis_dir_);
  }
  if (!opts_.dns_records.empty())
    dns_ = std::make_unique<sg::testing::DnsServer>(opts_.dns_records);

  // The Postfix side is what `streamguardctl postfix-conf` renders from the
  // test's own streamguard.toml, used as rendered (postfix_instance.hpp).
  policyd_config_path_ = root_ + "/streamguard.toml";
  policyd_log_path_ = root_ + "/policyd.log";
  postfix_conf_dir_ = root_ + "/postfix-conf";

  // A port picked as free can be taken before Postfix binds it: try again.
  for (int attempt = 1;; ++attempt) {
    const uint16_t a = free_loopback_port(), b = free_loopback_port(), c = free_loopback_port(),
                   d = free_loopback_port();
    if (std::set<uint16_t>{a, b, c, d}.size() != 4) continue;
    ports_ = {{"trucking", a}, {"healthcare", b}};
    staff_port_ = c;
    inbound_port_ = d;
    postfix_ = std::make_unique<PostfixInstance>(
        PostfixOptions{root_, opts_.render ? ports_ : std::map<std::string, uint16_t>{},
                       sink_->port(), postfix_conf_dir_ + "/main.cf.fragment",
                       postfix_conf_dir_ + "/master.cf.fragment", staff_port_, inbound_port_},
        reaper_);
    // Where the fragment's `check_policy_service unix:private/streamguard`
    // points: relative to the queue directory, as on a production host.
    policyd_socket_ = postfix_->queue_dir() + "/private/streamguard";
    std::ofstream(policyd_config_path_) << policyd_config();
    // Rendered against this Postfix's own settings, as on a host.
    postfix_->write_config();
    if (opts_.render) render_postfix_conf();
    try {
      postfix_->start();
      break;
    } catch (const std::exception&) {
      postfix_.reset();
      if (attempt == 3) throw;
    }
  }

  start_policyd(true);
  if (opts_.milter) start_milters();
}

void Harness::start_milters() {
  const std::string dir = root_ + "/opendkim";
  const std::string sock_dir = postfix_->queue_dir() + "/opendkim";
  std::filesystem::create_directories(dir + "/keys");
  // As on a Debian host (docs/install.md, step 3): OpenDKIM runs as its own
  // user, its socket folder inside Postfix's queue belongs to it (0750), and
  // smtpd reaches the socket as a member of the opendkim group.
  const passwd* found = ::getpwnam("opendkim");  // static storage: copied at once
  if (!found) throw std::runtime_error("no 'opendkim' user: is opendkim installed?");
  const uid_t dkim_uid = found->pw_uid;
  const gid_t dkim_gid = found->pw_gid;
  if (!postfix_in_group(dkim_gid))
    throw std::runtime_error(
        "the postfix user is not in the opendkim group (scripts/install-deps adds it)");
  std::filesystem::create_directories(sock_dir);
  ::chmod(sock_dir.c_str(), 0750);
  if (::chown(sock_dir.c_str(), dkim_uid, dkim_gid) != 0)
    throw std::runtime_error("cannot chown " + sock_dir);
  auto genkey = find_tool("opendkim-genkey");
  auto opendkim = find_tool("opendkim");
  if (genkey.empty() || opendkim.empty())
    throw std::runtime_error("opendkim not found (scripts/install-deps installs it)");
  auto g = run_command(
      {genkey, "-b", "1024", "-d", "send.example.com", "-s", "send", "-D", dir + "/keys"}, 60s);
  if (g.exit_code != 0) throw std::runtime_error("opendkim-genkey failed: " + g.output);
  for (const auto& key : std::filesystem::directory_iterator(dir + "/keys"))
    if (::chown(key.path().c_str(), dkim_uid, dkim_gid) != 0)
      throw std::runtime_error("cannot chown " + key.path().string());
  std::ofstream(dir + "/key.table")
      << "send._domainkey.send.example.com send.example.com:send:" << dir << "/keys/send.private\n";
  std::ofstream(dir + "/signing.table") << "*@send.example.com send._domainkey.send.example.com\n";
  std::ofstream(dir + "/trusted.hosts") << opts_.opendkim_internal_hosts;
  std::ofstream(dir + "/opendkim.conf")
      << "# OpenDKIM for one e2e test\n"
      << "Syslog no\n"
      << "Mode sv\n"
      << "UserID opendkim:opendkim\n"
      << "UMask 007\n"
      << "Socket local:" << sock_dir << "/opendkim.sock\n"
      << "KeyTable " << dir << "/key.table\n"
      << "SigningTable refile:" << dir << "/signing.table\n"
      << "InternalHosts " << dir << "/trusted.hosts\n"
      << "Canonicalization relaxed/simple\n"
      // The key lives under /tmp (world-writable): OpenDKIM would call it unsafe.
      << "RequireSafeKeys false\n";
  opendkim_pid_ = spawn({opendkim, "-f", "-x", dir + "/opendkim.conf"}, dir + "/opendkim.log");
  reaper_.watch_pid(opendkim_pid_);
  if (!wait_until([&] { return unix_accepts(sock_dir + "/opendkim.sock"); }, 15s))
    throw std::runtime_error("opendkim did not start:\n" + tail(opendkim_log()));

  start_milter();
}

void Harness::start_milter() {
  if (milter_pid_ > 0) throw std::runtime_error("streamguard-milter is already running");
  const std::string milter_sock = postfix_->queue_dir() + "/private/streamguard-milter";
  milter_pid_ = spawn({SG_MILTER_BIN, "--config", policyd_config_path_}, root_ + "/milter.log");
  reaper_.watch_pid(milter_pid_);
  if (!wait_until([&] { return unix_accepts(milter_sock); }, 15s))
    throw std::runtime_error("streamguard-milter did not start:\n" + tail(milter_log()));
}

void Harness::kill_milter() {
  if (milter_pid_ <= 0) return;
  ::kill(milter_pid_, SIGKILL);
  ::waitpid(milter_pid_, nullptr, 0);
  reaper_.forget_pid(milter_pid_);
  milter_pid_ = -1;
}

std::string Harness::milter_log() const {
  return slurp(root_ + "/milter.log");
}

std::string Harness::opendkim_log() const {
  return slurp(root_ + "/opendkim/opendkim.log");
}

Harness::~Harness() {
  if (::testing::Test::HasFailure()) {
    std::cerr << "---- e2e folder: " << root_ << "\n---- maillog (tail):\n"
              << tail(postfix_ ? postfix_->log() : "") << "\n---- policyd log (tail):\n"
              << tail(policyd_log()) << "\n";
  }
  if (::testing::Test::HasFailure() && rampd_pid_ > 0)
    std::cerr << "---- rampd log (tail):\n" << tail(rampd_log()) << "\n";
  for (pid_t* pid : {&rampd_pid_, &milter_pid_, &opendkim_pid_}) {
    if (*pid > 0) {
      terminate(*pid, 5s);
      reaper_.forget_pid(*pid);
      *pid = -1;
    }
  }
  if (policyd_pid_ > 0) {
    terminate(policyd_pid_, 5s);
    reaper_.forget_pid(policyd_pid_);
    policyd_pid_ = -1;
  }
  postfix_.reset();
  if (redis_) {
    reaper_.forget_pid(redis_->pid());
    redis_.reset();
    reaper_.forget_dir(redis_dir_);
  }
  sink_.reset();
  const char* keep = std::getenv("SG_E2E_KEEP");
  if (keep && *keep && std::string(keep) != "0") {
    std::cerr << "SG_E2E_KEEP: kept " << root_ << "\n";
  } else {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  reaper_.forget_dir(root_);
}

uint16_t Harness::port(const std::string& stream) const {
  if (stream == "staff") return staff_port_;
  if (stream == "inbound") return inbound_port_;
  return ports_.at(stream);
}

void Harness::start_policyd(bool wait_redis) {
  if (policyd_pid_ > 0) throw std::runtime_error("policyd is already running");
  const int connects_before = policyd_redis_connects();
  policyd_pid_ = spawn({SG_POLICYD_BIN, "--config", policyd_config_path_}, policyd_log_path_);
  reaper_.watch_pid(policyd_pid_);
  bool ready =
      wait_until([&] { return unix_accepts(policyd_socket_); }, 15s) &&
      (!wait_redis || wait_until([&] { return policyd_redis_connects() > connects_before; }, 15s));
  if (!ready) {
    kill_policyd();
    throw std::runtime_error("streamguard-policyd did not become ready:\n" + tail(policyd_log()));
  }
}

void Harness::start_rampd() {
  if (rampd_pid_ > 0) throw std::runtime_error("rampd is already running");
  rampd_pid_ = spawn({SG_RAMPD_BIN, "--config", policyd_config_path_}, root_ + "/rampd.log");
  reaper_.watch_pid(rampd_pid_);
  if (!wait_until([&] { return unix_accepts(rampd_status_socket()); }, 15s)) {
    stop_rampd();
    throw std::runtime_error("streamguard-rampd did not become ready:\n" + tail(rampd_log()));
  }
}

void Harness::kill_rampd() {
  if (rampd_pid_ <= 0) return;
  ::kill(rampd_pid_, SIGKILL);
  ::waitpid(rampd_pid_, nullptr, 0);
  reaper_.forget_pid(rampd_pid_);
  rampd_pid_ = -1;
}

void Harness::stop_rampd() {
  if (rampd_pid_ <= 0) return;
  ::kill(rampd_pid_, SIGTERM);
  ::waitpid(rampd_pid_, nullptr, 0);
  reaper_.forget_pid(rampd_pid_);
  rampd_pid_ = -1;
}

bool Harness::wait_rampd_exit(std::chrono::milliseconds limit) {
  if (rampd_pid_ <= 0) return true;
  const bool gone =
      wait_until([&] { return ::waitpid(rampd_pid_, nullptr, WNOHANG) == rampd_pid_; }, limit);
  if (gone) {
    reaper_.forget_pid(rampd_pid_);
    rampd_pid_ = -1;
  }
  return gone;
}

std::string Harness::rampd_log() const {
  return slurp(root_ + "/rampd.log");
}

void Harness::kill_policyd() {
  if (policyd_pid_ <= 0) return;
  ::kill(policyd_pid_, SIGKILL);
  ::waitpid(policyd_pid_, nullptr, 0);
  reaper_.forget_pid(policyd_pid_);
  policyd_pid_ = -1;
}

std::string Harness::policyd_log() const {
  return slurp(policyd_log_path_);
}

int Harness::policyd_redis_connects() const {
  return count_of(policyd_log(), "redis: connected");
}

void Harness::kill_redis() {
  reaper_.forget_pid(redis_ptr_->pid());
  redis_ptr_->kill();
}

void Harness::restart_redis() {
  redis_ptr_->start();
  reaper_.watch_pid(redis_ptr_->pid());
}

long Harness::daily_count(const std::string& stream, const std::string& op) const {
  std::string keys = redis_ptr_->cmd({"KEYS", "sg:{" + stream + "}:count:day:*"});
  std::istringstream in(keys);
  for (std::string key; std::getline(in, key, ',');) {
    const auto at = key.find(":op:");
    if (key.empty() || (op.empty() ? at != std::string::npos
                                   : at == std::string::npos || key.substr(at) != ":op:" + op))
      continue;
    return std::atol(redis_ptr_->cmd({"GET", key}).c_str());
  }
  return 0;
}

Submission Harness::submit_data(const std::string& stream, const std::vector<std::string>& rcpts,
                                const std::string& data) const {
  const std::string path = root_ + "/message-" + std::to_string(++data_files_) + ".eml";
  std::ofstream(path, std::ios::binary) << data;
  return submit(stream, rcpts, "", path);
}

Submission Harness::submit(const std::string& stream, const std::vector<std::string>& rcpts,
                           const std::string& quit_after, const std::string& data_file) const {
  std::string to;
  for (const auto& r : rcpts) to += (to.empty() ? "" : ",") + r;
  std::vector<std::string> args = {swaks_,
                                   "--server",
                                   "127.0.0.1:" + std::to_string(port(stream)),
                                   "--helo",
                                   "listmonk.e2e.test",
                                   "--from",
                                   kFrom,
                                   "--to",
                                   to,
                                   "--header",
                                   "Subject: streamguard e2e (" + stream + ")",
                                   "--timeout",
                                   "20",
                                   "--suppress-data"};
  if (!data_file.empty()) {
    // The message as written replaces swaks's own (and its --header).
    auto h = std::find(args.begin(), args.end(), "--header");
    args.erase(h, h + 2);
    args.push_back("--data");
    args.push_back(data_file);
  }
  if (stream == "staff")  // a staff member's mail client logs in
    args.insert(args.end(),
                {"--auth", "PLAIN", "--auth-user", kStaffUser, "--auth-password", kStaffPassword});
  if (!quit_after.empty()) {
    args.push_back("--quit-after");
    args.push_back(quit_after);
  }
  auto res = run_command(args, 40s);
  Submission s;
  s.exit_code = res.exit_code;
  s.transcript = res.output;
  // swaks prints " -> " for what it sends, "<-  " for a positive reply and
  // "<** " for an error reply.
  std::istringstream in(res.output);
  std::string pending_rcpt;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(" -> RCPT TO:<", 0) == 0) {
      pending_rcpt = line.substr(13, line.find('>', 13) - 13);
      continue;
    }
    bool server = line.rfind("<-  ", 0) == 0 || line.rfind("<** ", 0) == 0;
    if (!server) continue;
    std::string reply = line.substr(4);
    if (!pending_rcpt.empty()) {
      s.rcpts.push_back({pending_rcpt, reply});
      pending_rcpt.clear();
    } else if (auto q = reply.find("queued as ");
               reply.rfind("250", 0) == 0 && q != std::string::npos) {
      s.queue_id = reply.substr(q + 10);
    }
  }
  return s;
}

}  // namespace sg::e2e
