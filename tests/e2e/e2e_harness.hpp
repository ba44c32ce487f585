// The whole pipeline for one end-to-end test, on loopback only:
//
//   swaks --> Postfix smtpd 127.0.0.1:P_trucking   (syslog postfix/trucking)  --+
//   swaks --> Postfix smtpd 127.0.0.1:P_healthcare (syslog postfix/healthcare)--+
//                 | check_policy_service unix:private/streamguard                 |
//                 v                                                               |
//            streamguard-policyd (the real binary) --> redis-server (unix socket) |
//                                                                                 v
//            out05 (HELO mta05.example.com) / hcout1 (HELO hcmta01.example.com)
//                 --> SmtpSink on 127.0.0.1 (records HELO, recipients, data)
//
// Everything it starts is stopped by its destructor, and by a Reaper process
// if the test process dies first. Set SG_E2E_KEEP=1 to keep the folder (config,
// queue, maillog, policyd log) for a look after the test.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/postfix_instance.hpp"
#include "tests/e2e/process.hpp"
#include "tests/e2e/smtp_sink.hpp"
#include "tests/e2e/status_probe.hpp"
#include "tests/integration/dns_server.hpp"
#include "tests/integration/redis_server.hpp"

namespace sg::e2e {

// What the SMTP client saw.
struct Submission {
  int exit_code = -1;
  std::string transcript;
  struct Rcpt {
    std::string address;
    std::string reply;  // "250 2.1.5 Ok", "554 5.7.1 <a@b>: Recipient address rejected: ..."
  };
  std::vector<Rcpt> rcpts;
  std::string queue_id;  // from "250 2.0.0 Ok: queued as QID"; empty if not queued

  // The reply to RCPT TO:<address> ("" if it was never sent).
  std::string reply_to(const std::string& address) const;
  bool accepted(const std::string& address) const { return reply_to(address).rfind("250", 0) == 0; }
};

struct HarnessOptions {
  // TOML lines added to each [[stream]] table (caps, over_cap, mode...). A
  // daily cap makes policyd keep the day's counter, which tests read.
  std::string trucking = "daily_cap = 1000\n";
  std::string healthcare = "daily_cap = 1000\n";
  // redis-server options added to the test's own (e.g. "--appendonly", "yes").
  std::vector<std::string> redis_server_args;
  // When set: this Redis (the test's, shared by several harnesses: several
  // MTAs on one set of caps) instead of one of the harness's own.
  sg::testing::RedisServer* shared_redis = nullptr;
  // TOML lines added to [redis] (url and timeout_ms are set by the harness).
  std::string redis = "on_error = \"hold\"\n";
  // TOML lines added to [policyd] (listen is set by the harness).
  std::string policyd;
  // When not empty: a dnsmasq on loopback serves these records (dnsmasq
  // options such as "--mx-host=clinic.example,aspmx.l.google.com,1"),
  // policyd's [dns] points at it, and the operators get mx_suffixes
  // (google .google.com, microsoft .mail.protection.outlook.com, yahoo
  // .yahoodns.net with list = "yahoo_family"). Otherwise no MX lookups.
  std::vector<std::string> dns_records;
  // TOML lines added to [dns] when dns_records is not empty (on_failure...).
  std::string dns;
  // When true: a real OpenDKIM (its own key for send.example.com, selector
  // "send", KeyTable + refile: SigningTable + InternalHosts file) and
  // streamguard-milter run as smtpd_milters, OpenDKIM first, as rendered.
  bool milter = false;
  // OpenDKIM's InternalHosts file (the submitting client is 127.0.0.1).
  std::string opendkim_internal_hosts = "127.0.0.1\n::1\n";
  // TOML lines added to [milter] (listen and opendkim_conf are set).
  std::string milter_settings;
  // TOML added at the end of the config: [[breaker]] and [[suppress]] rules.
  std::string rules;
  // TOML lines added to [rampd] (status, maillog and the Postfix directories
  // are set by the harness: rampd follows this Postfix's maillog_file and
  // runs postqueue/postsuper/postcat -c on its config).
  std::string rampd;
  // False: Postfix starts with the operator's own configuration only (no
  // fragments, the stream ports not served), for the tests of
  // `streamguardctl postfix-conf --apply` and --rollback.
  bool render = true;
};

class Harness {
 public:
  explicit Harness(HarnessOptions opts = {});
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  static constexpr const char* kFrom = "news@send.example.com";

  // A stream's submission port; "staff" and "inbound": the operator's own
  // services beside the streams, which streamguard must leave alone (see
  // PostfixOptions). submit() to "staff" logs in as kStaffUser.
  uint16_t port(const std::string& stream) const;
  // Submits one message to the stream's port with a real SMTP client (swaks).
  // quit_after: "" sends the whole message; "RCPT" quits after the last
  // RCPT TO (a transaction abandoned before DATA).
  Submission submit(const std::string& stream, const std::vector<std::string>& rcpts,
                    const std::string& quit_after = "", const std::string& data_file = "") const;

  SmtpSink& sink() { return *sink_; }
  PostfixInstance& postfix() { return *postfix_; }
  sg::testing::RedisServer& redis() { return *redis_ptr_; }

  // streamguard-policyd: SIGKILL (a crash: the socket file stays behind), and
  // start again with the same config; start waits until it accepts on its
  // socket and, if wait_redis, until it has (re)connected to Redis.
  void kill_policyd();
  void start_policyd(bool wait_redis = true);
  std::string policyd_log() const;
  int policyd_redis_connects() const;  // "redis: connected" lines so far

  // Redis: SIGKILL, and start again at the same socket.
  void kill_redis();
  void restart_redis();

  // Today's value of the stream's daily counter in Redis, or of its counter
  // for one operator (0 if absent).
  long daily_count(const std::string& stream, const std::string& op = "") const;

  const std::string& root() const { return root_; }
  // The streamguard.toml the daemons and streamguardctl read.
  const std::string& config_path() const { return policyd_config_path_; }
  std::string milter_log() const;
  void kill_milter();   // SIGKILL: a crashed milter
  void start_milter();  // streamguard-milter again (OpenDKIM keeps running)
  pid_t milter_pid() const { return milter_pid_; }
  // streamguard-rampd with the same config; start waits until its status
  // socket answers.
  void start_rampd();
  void stop_rampd();  // SIGTERM, waited for
  void kill_rampd();  // SIGKILL: a crashed rampd
  // Waits (up to `limit`) for rampd to exit by itself or by another's
  // signal; true when it did (it is reaped and may be started again).
  bool wait_rampd_exit(std::chrono::milliseconds limit);
  std::string rampd_log() const;
  std::string rampd_status_socket() const { return root_ + "/rampd-status.sock"; }
  std::string policyd_status_socket() const { return root_ + "/policyd-status.sock"; }
  std::string milter_status_socket() const { return root_ + "/milter-status.sock"; }
  std::string opendkim_log() const;
  // Submits a whole message as written (headers and body, CRLF or LF) with
  // swaks --data; the envelope sender is kFrom.
  Submission submit_data(const std::string& stream, const std::vector<std::string>& rcpts,
                         const std::string& data) const;
  sg::testing::DnsServer* dns() { return dns_.get(); }
  // Where streamguardctl postfix-conf wrote the fragments and the backstop
  // map ([postfix] backstop_dir of the test config).
  const std::string& postfix_conf_dir() const { return postfix_conf_dir_; }

 private:
  std::string policyd_config() const;
  // Runs the built streamguardctl postfix-conf on the test config.
  void render_postfix_conf() const;

  HarnessOptions opts_;
  Reaper reaper_;  // first: forked before any thread exists, destroyed last
  std::string root_, redis_dir_;
  std::map<std::string, uint16_t> ports_;
  uint16_t staff_port_ = 0, inbound_port_ = 0;
  std::unique_ptr<SmtpSink> sink_;
  std::unique_ptr<sg::testing::RedisServer> redis_;  // null when shared
  sg::testing::RedisServer* redis_ptr_ = nullptr;    // the one in use
  std::unique_ptr<sg::testing::DnsServer> dns_;
  std::unique_ptr<PostfixInstance> postfix_;
  std::string policyd_config_path_, policyd_log_path_, policyd_socket_, postfix_conf_dir_;
  pid_t policyd_pid_ = -1;
  pid_t opendkim_pid_ = -1, milter_pid_ = -1, rampd_pid_ = -1;
  mutable int data_files_ = 0;
  void start_milters();
  std::string swaks_;
};

// Postfix's queue holds one message, in the hold queue.
inline bool one_message_held(Harness& h) {
  auto q = h.postfix().queue();
  return q.size() == 1 && q[0].queue_name == "hold";
}

// How long a test waits for Postfix to deliver an accepted message to the
// sink: a bound, not a pause.
inline constexpr std::chrono::seconds kDelivery{20};

}  // namespace sg::e2e
