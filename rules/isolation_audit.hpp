// The isolation proof behind `streamguardctl audit-log`: every message in
// the Postfix log, from where it came in (a stream's submission service by
// its syslog_name, another smtpd service, or pickup) to the transport that
// delivered it, checked against the config. A stream's message must leave
// through its own transport (its egress address and HELO); mail of no
// stream (staff submission, cron, inbound relay) must not leave through a
// stream's transport. Pure: fed one line at a time.
//
// Counted per stream: messages submitted, delivery results through its own
// transport by status (and those of Postfix's retry and error agents, which
// deliver nothing: a suspended or refused transport's deferrals and
// bounces). Each breach is kept (the first kMaxKept; the rest
// counted): a stream's message through another stream's transport or
// through a transport of no stream (the default smtp, relay), and mail of
// no stream through a stream's transport. Deliveries of a message whose
// submission is not in the log (it came in before the log starts) are
// counted apart, never called a breach.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/config.hpp"
#include "formats/maillog.hpp"

namespace sg::audit {

struct Breach {
  std::string queue_id, timestamp, recipient;
  std::string came_in;  // "stream healthcare (postfix/healthcare)", "postfix/submission", "pickup"
  std::string left_by;  // "transport out05 (stream trucking)", "postfix/smtp (no stream)"
  std::string status;   // sent, deferred, bounced, expired
};

struct StreamCounts {
  uint64_t submitted = 0;
  uint64_t results[maillog::kStatusCount] = {};  // through its own transport, by status
  uint64_t breaches = 0;
};

class IsolationAudit {
 public:
  static constexpr std::size_t kMaxKept = 1000;

  explicit IsolationAudit(const Config& cfg);
  void feed(std::string_view line);

  const std::map<std::string, StreamCounts>& streams() const { return streams_; }
  const std::vector<Breach>& breaches() const { return breaches_; }
  uint64_t breach_count() const { return breach_count_; }
  uint64_t lines() const { return lines_; }
  uint64_t other_mail() const { return other_mail_; }          // results of mail of no stream
  uint64_t unknown_origin() const { return unknown_origin_; }  // submission not in the log

 private:
  void breach(const maillog::Delivery& d, std::string came_in, std::string left_by);

  std::map<std::string, std::string> stream_by_service_;    // "postfix/healthcare" -> stream
  std::map<std::string, std::string> stream_by_transport_;  // "postfix/hcout1" -> stream
  std::unordered_map<std::string, std::string> origin_;     // queue id -> service name
  std::map<std::string, StreamCounts> streams_;
  std::vector<Breach> breaches_;
  uint64_t breach_count_ = 0, lines_ = 0, other_mail_ = 0, unknown_origin_ = 0;
};

}  // namespace sg::audit
