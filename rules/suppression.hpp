// Suppression learning: the [[suppress]] rules over the delivery results of
// the Postfix log (brief rule 9: an address that hard-bounced, or a dead
// tenant, is never mailed again). Pure, like the breakers: rampd turns each
// result into a breaker::Event (EventMapper) and feeds it here; the entries
// it learns go to Redis (store/suppression_store.hpp), where policyd and the
// drainer refuse them for every stream. Time is passed in.
//
// One cell per (rule, address or domain). A matching result starts the
// cell's window at its time and counts; a later one beyond window_s starts a
// new window. The rule teaches the entry when the window holds `threshold`
// results and its first and last are at least span_s apart (a dead M365
// tenant defers for days; a receiver's one-hour outage must not teach it).
// A result with status=sent for the address or domain clears its cells: it
// is alive. Once learned, a key is not learned again until its entry's ttl
// ends (retries of mail queued before would otherwise re-teach it).
//
// Never learned from: a reputation reply (is_reputation_reply: x.7.x
// statuses, Yahoo's TSS codes, Microsoft's S3150 and 4.7.500, "unsolicited",
// "reputation", block lists): the address is alive, the sender is not
// trusted; those are the breakers' to count.
//
// Memory is bounded: at most Limits::max_keys cells and as many learned keys
// (results for further keys are dropped and counted).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.hpp"
#include "rules/breaker.hpp"
#include "rules/result_match.hpp"

namespace sg::suppression {

// The reply text an entry keeps (ASCII; cut, then "...").
inline constexpr std::size_t kMaxEntryText = 160;

struct Entry {
  SuppressScope scope = SuppressScope::address;
  std::string key;     // the address or the domain, lower case
  std::string rule;    // the [[suppress]] rule that taught it
  std::string stream;  // the stream whose mail taught it
  std::string dsn;     // of the result that completed it: "5.1.1"
  std::string text;    // that result's remote reply (or detail), as entry_text() keeps it
  uint32_t count = 0;  // matching results it took
  int64_t learned_ms = 0;
  int64_t until_ms = 0;
};

bool is_reputation_reply(std::string_view dsn, std::string_view text);

// A reply (or a reason a person gave) as an entry keeps it, fit for an SMTP
// reply line: Postfix joins a multi-line reply with spaces, so "550-5.1.1 "
// opens every line after the first; those markers go. Bytes outside
// printable ASCII become '?', and the text is cut at kMaxEntryText with "...".
std::string entry_text(std::string_view s);

class Learner {
 public:
  struct Limits {
    std::size_t max_keys = 200000;
  };
  struct Counts {
    uint64_t learned = 0;
    uint64_t reputation_ignored = 0;  // matched a rule's dsn/text, but a reputation reply
    uint64_t dropped = 0;             // max_keys cells were in use
  };

  explicit Learner(std::vector<SuppressRule> rules);
  Learner(std::vector<SuppressRule> rules, Limits limits);

  // Counts the result; returns the entries it completed (usually none).
  std::vector<Entry> record(const breaker::Event& e);

  const std::vector<SuppressRule>& rules() const { return rules_; }
  const Counts& counts() const { return counts_; }
  // Learned per rule since this Learner was made (rule name -> entries).
  const std::map<std::string, uint64_t>& learned_by_rule() const { return by_rule_; }

 private:
  struct Cell {
    int64_t first_ms = 0;
    int64_t last_ms = 0;
    uint32_t count = 0;
  };
  using CellKey = std::pair<std::size_t, std::string>;  // (rule index, address or domain)

  void forget_alive(const std::string& address, const std::string& domain);
  void prune(int64_t now_ms);

  std::vector<SuppressRule> rules_;
  std::vector<rules::CompiledMatch> compiled_;
  Limits limits_;
  std::map<CellKey, Cell> cells_;
  std::map<std::string, int64_t> learned_;  // "a:addr" / "d:domain" -> until_ms
  std::map<std::string, uint64_t> by_rule_;
  Counts counts_;
};

// "a:frontdesk@clinic.example" / "d:clinic.example": the entry's field name in
// Redis and in learned_.
std::string entry_field(SuppressScope scope, std::string_view key);
// The field of what a person typed or a file lists: "a:name@domain" for an
// address, "d:domain" for a domain name (letters, digits, dots and hyphens,
// with a dot), lower case; "" when it is neither.
std::string field_for_target(std::string_view target);
// The fields that would refuse `recipient`: its address, then its domain
// (lower case); none when it has no domain.
std::vector<std::string> fields_for(std::string_view recipient);
// The same, for a recipient whose domain (recipient_domain()) is known.
std::vector<std::string> fields_for(std::string_view recipient, std::string_view domain);

// An entry as kept in Redis (keys::suppress_all and each stream's copy): the
// value "UNTIL_MS LEARNED_MS RULE STREAM DSN TEXT" (RULE "manual" and STREAM
// "-" for an entry added by hand; DSN "-" when none; TEXT may hold spaces),
// read back with its field. The limiter script reads UNTIL_MS only.
std::string record_of(const Entry& e);
std::optional<Entry> parse_entry(std::string_view field, std::string_view record);

// policyd's refusal for a recipient an entry covers, without the action
// word: "5.1.1 streamguard: <a@b> is suppressed: it hard-bounced (550 5.1.1 …) on
// 2026-06-17 via healthcare (rule user-unknown); no stream mails it until
// 2027-06-17". A record that does not parse still refuses, saying so.
// Always one line of printable ASCII.
std::string refusal_text(std::string_view field, std::string_view record);

}  // namespace sg::suppression
