// What rampd reads from Postfix's queue to release held mail, parsed.
// Pure: no I/O, no clock (only postcat's local arrival time goes through
// mktime and the process's time zone). rampd runs the commands
// (common/command.hpp) and hands their output here.
//
//   postqueue -j          one JSON object per queue file, one per line (see
//                         postqueue(1), JSON OBJECT FORMAT):
//     {"queue_name": "hold", "queue_id": "4BXk2L0TfTz9vKJ", "arrival_time": 1763849201,
//      "message_size": 402, "forced_expire": false, "sender": "news@send.example.com",
//      "recipients": [{"address": "a@clinic.example", "delay_reason": "..."}]}
//   postcat -e -q QID     the envelope records of one queue file, "name: value"
//                         a line, between section lines that name the file
//                         (as Postfix 3.7 prints them; named_attribute lines
//                         and the rest cut here):
//     *** ENVELOPE RECORDS deferred/1/1EA11A80133 ***
//     message_arrival_time: Sun Nov 22 22:21:57 2026
//     content_filter: hcout1:
//     sender: news@send.example.com
//     original_recipient: office@clinic-b.example
//     done_recipient: office@clinic-b.example      (delivered already)
//     original_recipient: billing@clinic-c.example
//     recipient: billing@clinic-c.example
//     *** MESSAGE CONTENTS deferred/1/1EA11A80133 ***
//     *** HEADER EXTRACTED deferred/1/1EA11A80133 ***
//     *** MESSAGE FILE END deferred/1/1EA11A80133 ***
//
// The stream of a held message is the transport of its content_filter
// record: each stream's submission service sets -o content_filter=TRANSPORT:
// (streamguardctl postfix-conf), and Postfix stores it in the queue file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sg::held {

// Longer postqueue -j lines are refused. One object carries every recipient
// with its delay reason (up to a few hundred bytes each); a campaign message
// has one recipient, a message to many is still far below this.
inline constexpr std::size_t kMaxLineBytes = 4 << 20;
// More recipients than this in one queue file are refused (Postfix's own
// smtpd_recipient_limit defaults to 1000).
inline constexpr std::size_t kMaxRecipients = 10000;
// Queue ids are [0-9A-Za-z]: short (hex, ~10) or long (~15-17) ids.
inline constexpr std::size_t kMaxQueueIdBytes = 32;
// Queue names ("hold", "deferred", "active", "incoming", "maildrop").
inline constexpr std::size_t kMaxQueueNameBytes = 32;
// Longer postcat -e outputs are refused.
inline constexpr std::size_t kMaxEnvelopeBytes = 16 << 20;

struct QueuedRecipient {
  std::string address;
  std::string delay_reason;  // "" when absent
};

struct QueuedMessage {
  std::string queue_name, queue_id;
  int64_t arrival_time = 0;   // epoch seconds; 0 when absent
  uint64_t message_size = 0;  // header + body bytes; 0 when absent
  bool forced_expire = false;
  std::string sender;  // "" for the null sender, or when absent
  std::vector<QueuedRecipient> recipients;
};

// True for [0-9A-Za-z]{1,kMaxQueueIdBytes}: safe to pass to postsuper,
// postqueue -i and postcat -q as an argument.
bool valid_queue_id(std::string_view id);

// True for a queue's name as postqueue -j and postcat give it: [0-9A-Za-z_-]
// {1,kMaxQueueNameBytes} ("hold", "deferred", "active").
bool valid_queue_name(std::string_view name);

// One line of postqueue -j (a trailing "\n" or "\r\n" is fine). Unknown
// members are ignored (the man page says the list grows). Refused, with the
// reason in `error`: not JSON or not an object, a line over kMaxLineBytes,
// queue_id or queue_name missing or invalid, a member of the wrong type
// (arrival_time must be an integer, message_size a non-negative integer,
// forced_expire a boolean, the others strings; recipients an array of
// objects each with a string address), more than kMaxRecipients. Never
// throws.
std::optional<QueuedMessage> parse_postqueue_line(std::string_view line, std::string& error);

struct Listing {
  std::vector<QueuedMessage> messages;  // in the order listed
  std::vector<std::string> errors;      // one per refused line, "line N: reason"
};

// The whole postqueue -j output: one object a line, blank lines skipped. A
// queue id listed twice (postqueue(1): the queue may change while it is
// listed) is kept once, as first listed.
Listing parse_postqueue(std::string_view output);

struct Envelope {
  // From the "*** ENVELOPE RECORDS hold/QID ***" line: postcat -q names the
  // file QUEUE/QID or, in a hashed queue, QUEUE/h/QID ("deferred/1/QID").
  // Both "" when the line names a file some other way.
  std::string queue_name, queue_id;
  // The content_filter record ("hcout1:", "out05:[127.0.0.1]:10025"); ""
  // when the queue file has none. If there are several, the last, as
  // Postfix's queue manager takes it.
  std::string content_filter;
  std::string sender;  // the first sender record, as the queue manager takes it
  // Recipients still to deliver, in file order: "recipient:" records, not
  // the ones Postfix has marked done ("done_recipient:") or canceled.
  std::vector<std::string> recipients;
  // message_arrival_time, which postcat prints in local time
  // ("Sat Nov 22 22:40:01 2025"): converted with the process's time zone.
  std::optional<int64_t> arrival_time;
};

// The output of postcat -e -q QID for one queue file. Records are read in
// the ENVELOPE RECORDS and HEADER EXTRACTED sections; section lines count
// only when they name the file the ENVELOPE RECORDS line named, and lines of
// message content (with -h or -b) are skipped, but give -e alone: a body can
// hold any text. Unknown record names are ignored; the -o/-v forms are not
// understood. Refused, with the reason in `error`: no ENVELOPE RECORDS line,
// no MESSAGE FILE END line (the output was cut), a second queue file, an
// output over kMaxEnvelopeBytes, more than kMaxRecipients recipients. Never
// throws.
std::optional<Envelope> parse_postcat_envelope(std::string_view output, std::string& error);

// The transport of a content_filter value, "transport:nexthop":
// "out05:" -> "out05", "out05:[127.0.0.1]:10025" -> "out05", "" -> "".
// A value with no colon is all transport. Surrounding blanks are trimmed.
std::string_view filter_transport(std::string_view content_filter);

}  // namespace sg::held
