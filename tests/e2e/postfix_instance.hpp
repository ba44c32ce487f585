// A throwaway Postfix (Debian's 3.7) for one test: its own config_directory,
// queue_directory and data_directory under a temporary folder, started with
// `postfix -c DIR start` as root, listening on 127.0.0.1 only, logging to a
// file (postlogd), relaying every message to a loopback sink and never doing
// a DNS lookup.
//
// main.cf is a small base (paths, loopback, no DNS, the sink as next hop)
// followed by the main.cf fragment verbatim; master.cf is the internal
// services followed by the master.cf fragment verbatim. The fragments are the
// ones `streamguardctl postfix-conf` renders from the test's streamguard.toml
// (see Harness), which puts the submission services on 127.0.0.1:PORT, turns
// chroot off and binds the egress transports to 127.0.0.1: nothing is
// rewritten here.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/e2e/process.hpp"

namespace sg::e2e {

struct QueueEntry {
  std::string queue_name;  // "hold", "deferred", "active", "incoming", ...
  std::string queue_id;
  std::vector<std::string> recipients;
  std::string json;  // the whole line from postqueue -j
};

struct PostfixOptions {
  std::string root;                              // an existing folder, mode 0755
  std::map<std::string, uint16_t> stream_ports;  // stream name -> submission port
  uint16_t sink_port = 0;                        // where every message is relayed
  std::string main_fragment, master_fragment;    // paths of the rendered fragments
  // The operator's own services, which streamguard must leave alone (0: not
  // served). staff_port: submission for staff and applications, SASL
  // required to relay (kStaffUser), as Debian's submission template does.
  // inbound_port: mail to this host's own domain (kInboundDomain: bounces,
  // DMARC reports, abuse@), accepted from anyone and delivered here by
  // virtual(8) into a mailbox under the test folder, as port 25 does.
  uint16_t staff_port = 0;
  uint16_t inbound_port = 0;
};

// The SASL login of the staff submission service (Cyrus SASL, sasldb).
inline constexpr const char* kStaffUser = "staff@e2e.test";
inline constexpr const char* kStaffPassword = "staff-secret";
// The domain the inbound service delivers locally; its one mailbox.
inline constexpr const char* kInboundDomain = "inbound.e2e.test";
inline constexpr const char* kInboundMailbox = "postmaster@inbound.e2e.test";

class PostfixInstance {
 public:
  PostfixInstance(PostfixOptions opts, Reaper& reaper);
  ~PostfixInstance();
  PostfixInstance(const PostfixInstance&) = delete;
  PostfixInstance& operator=(const PostfixInstance&) = delete;

  // Writes the configuration and runs `postfix -c DIR start`; throws with the
  // command's output and the log if Postfix refuses or its ports do not
  // answer. (Warnings are the business of the test that looks for them.)
  void start();
  // Writes main.cf and master.cf (start() does it again): the operator's
  // settings, and the fragments once they exist. Lets streamguardctl read
  // the current settings with postconf before the fragments are rendered.
  void write_config() const;
  void stop();

  const std::string& config_dir() const { return config_dir_; }
  const std::string& queue_dir() const { return queue_dir_; }
  const std::string& log_path() const { return log_path_; }
  const std::string& hostname() const { return hostname_; }
  std::string log() const;
  // The log lines that contain every one of the needles.
  std::vector<std::string> log_lines(const std::vector<std::string>& needles) const;
  bool wait_for_log(const std::vector<std::string>& needles, std::chrono::milliseconds limit = 15s);

  // postqueue -j, parsed.
  std::vector<QueueEntry> queue() const;
  // Runs a Postfix command (postconf, postqueue, postsuper, ...) with -c DIR.
  CommandResult command(const std::string& tool, const std::vector<std::string>& args) const;

  const std::string& start_output() const { return start_output_; }
  // What virtual(8) delivered to kInboundMailbox ("" if nothing yet).
  std::string inbound_mailbox() const;

 private:
  void write_main_cf() const;
  void write_master_cf() const;
  // The SASL database of the staff service and the inbound mailbox folder.
  void prepare_operator_services() const;
  pid_t read_master_pid() const;

  PostfixOptions opts_;
  Reaper& reaper_;
  std::string config_dir_, queue_dir_, data_dir_, log_path_, hostname_;
  std::string start_output_;
  pid_t master_pid_ = -1;
};

}  // namespace sg::e2e
