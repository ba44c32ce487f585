// One line of the Postfix log -> the delivery result it reports, if any.
// Pure: no I/O, no clock. rampd feeds it the lines it follows (a
// maillog_file, a syslog file or the journal) and hands the results to the
// breaker (rules/breaker.hpp).
//
// Accepted line shapes (the message part is what Postfix writes itself):
//   Nov 22 20:46:16 host postfix/hcout1/smtp[32572]: QID: to=<a@b>, ...
//   Nov  2 08:01:09 host ...                         (day padded with a space)
//   2026-11-22T20:46:16.123456+00:00 host postfix/... (rsyslog / maillog_file
//                                                      ISO stamp; also "Z",
//                                                      "+0000", no fraction)
// A delivery result is a delivery agent's (smtp, lmtp, local, virtual, pipe,
// error, retry, discard) recipient line:
//   QID: to=<rcpt>, [orig_to=<rcpt>, ]relay=HOST[IP]:PORT, [conn_use=N, ]
//        delay=S, delays=a/b/c/d, dsn=X.Y.Z, status=STATUS (DETAIL)
// or the queue manager's expiry line:
//   QID: from=<sender>, status=expired, returned to sender
// Anything else (smtpd, cleanup, qmgr's from=/removed lines, pickup, the
// address-verification statuses "deliverable"/"undeliverable", malformed or
// over-long lines) is not a delivery result: parse_line returns nullopt.
//
// The service that logged the line tells the stream: streamguardctl renders
// each stream's egress transport with syslog_name=postfix/TRANSPORT, so its
// lines carry "postfix/TRANSPORT/smtp" and Delivery::service() is TRANSPORT.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sg::maillog {

// Longer lines are not parsed. Postfix's own records stay well below (the
// remote reply it logs is cut at a few hundred bytes of its line_length_limit
// of 2048); rsyslog's default message limit is 8 KiB.
inline constexpr std::size_t kMaxLineBytes = 8192;
// A queue id: short (hex, up to 12) or long (enable_long_queue_ids, ~17).
inline constexpr std::size_t kMaxQueueIdBytes = 32;
// The syslog tag (e.g. "postfix/hcout1/smtp").
inline constexpr std::size_t kMaxSyslogNameBytes = 128;

enum class Status { sent, deferred, bounced, expired };
inline constexpr std::size_t kStatusCount = 4;
const char* to_string(Status s);
// "sent", "deferred", "bounced", "expired"; Postfix's "SOFTBOUNCE" (a bounce
// that soft_bounce=yes turned into a deferral) is deferred. Other -> nullopt.
std::optional<Status> parse_status(std::string_view s);

struct Delivery {
  std::string timestamp;  // as written: "Nov 22 20:46:16" or "2026-11-22T20:46:16.123456+00:00"
  bool iso_timestamp = false;  // the ISO 8601 form (see iso_time_ms)
  std::string host;            // the host that logged the line
  std::string syslog_name;     // "postfix/hcout1/smtp"
  uint32_t pid = 0;
  std::string queue_id;        // "3F4A1A0B2C"
  std::string recipient;       // to=<...> without the brackets; "" on the expiry line
  std::string orig_recipient;  // orig_to=<...>; "" when absent
  std::string sender;          // from=<...> of the expiry line; "" otherwise
  std::string relay;           // as written: "mx.example.com[192.0.2.1]:25", "none", "local"
  std::string relay_host;      // "mx.example.com" ("" for relay=none)
  std::string relay_ip;        // "192.0.2.1" ("" when the relay has no [IP])
  std::string dsn;             // enhanced status "4.7.0"; "" when absent (expiry line)
  Status status = Status::deferred;
  // The text in parentheses after the status, whole: "host mx[ip] said: 421
  // ... (in reply to RCPT TO command)", "connect to mx[ip]:25: Connection
  // timed out", "250 2.0.0 OK ...". "" on the expiry line.
  std::string detail;
  // The remote server's reply inside `detail` (after "said: " or "refused to
  // talk to me: ", without the trailing "(in reply to ... command)"), or the
  // whole detail when it starts with an SMTP code (status=sent lines); ""
  // when no server answered (timeouts, DNS failures, local errors).
  std::string reply;
  uint16_t reply_code = 0;  // 200-599 from `reply`; 0 when there is none

  // "postfix/hcout1/smtp" -> "hcout1"; "postfix/smtp" -> "" (no service
  // component); "postfix-out/hcout1/smtp" -> "hcout1".
  std::string_view service() const;
  // "postfix/hcout1/smtp" -> "smtp"; "qmgr" for the expiry line.
  std::string_view program() const;
};

std::optional<Delivery> parse_line(std::string_view line);

// Where a message came in, for `streamguardctl audit-log`: an smtpd's
//   QID: client=HOST[IP]            (syslog_name "postfix/healthcare/smtpd")
// or pickup's local submission (cron, sendmail):
//   QID: uid=N from=<sender>        (syslog_name "postfix/pickup")
struct Submission {
  std::string timestamp;
  std::string syslog_name;  // "postfix/healthcare/smtpd"
  std::string queue_id;
  std::string client;  // "host[192.0.2.1]" for smtpd; "uid=N" for pickup
  bool pickup = false;
  // The syslog_name without the program: "postfix/healthcare".
  std::string_view service_name() const;
};
std::optional<Submission> parse_submission(std::string_view line);

// A milter's refusal of a message Postfix had named, as cleanup logs it
// (the milter's END-OF-MESSAGE verdict reaches smtpd through cleanup):
//   QID: milter-reject: END-OF-MESSAGE from HOST[IP]: 4.7.0 TEXT; from=<s>
//        to=<r> proto=ESMTP helo=<h>      (syslog_name "postfix/cleanup")
// smtpd's own lines of the same shape count too; its NOQUEUE lines (a
// refusal at CONNECT, RCPT or DATA, before a queue file) do not.
struct MilterRefusal {
  std::string timestamp;
  std::string syslog_name;  // "postfix/cleanup"
  std::string queue_id;
  std::string stage;  // "END-OF-MESSAGE", or the stage Postfix named
  std::string reply;  // "4.7.0 TEXT": what the client was told
};
std::optional<MilterRefusal> parse_milter_refusal(std::string_view line);

namespace detail {
// The stamp, the host and "name[pid]: " of a syslog line, into d; `rest`
// is left at the message. Shared by the parsers above.
bool read_prefix(std::string_view& rest, Delivery& d);
}  // namespace detail

// "2026-11-22T20:46:16.123456+00:00" (also "Z", "+0000", no fraction) ->
// milliseconds since the epoch; nullopt when malformed.
std::optional<int64_t> iso_time_ms(std::string_view timestamp);
// "Nov 22 20:46:16" -> milliseconds since the epoch, for a line written in
// `year` by a host whose local time is UTC + utc_offset_s (the classic
// syslog stamp carries neither). nullopt when malformed.
std::optional<int64_t> syslog_time_ms(std::string_view timestamp, int year, int32_t utc_offset_s);

}  // namespace sg::maillog
