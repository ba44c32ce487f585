// The breakers: rules ([[breaker]] in the config) over the delivery results
// of the Postfix log, per stream x receiving operator (brief rule 8: if
// Gmail 550-5.7.1 or Yahoo 421 TSS04 reappear, stop that traffic). Pure: the
// caller (rampd) parses the log (formats/maillog.hpp), turns each result into
// an Event with EventMapper, feeds it here, and writes the states to Redis
// for policyd. Time is always passed in; nothing here reads a clock.
//
// One breaker per (stream, operator, rule). Its life:
//
//   closed ──N matching results within W s──> open ──cooldown_s──>
//   recovering ──recovery_s──> closed
//                    └── N matching results within W s again ──> open
//
//   - closed: every matching result (rule's operator, dsn prefix, text,
//     status) is remembered; when `threshold` of them lie within `window_s`
//     of each other (the newest minus the oldest <= window_s) it trips.
//   - open until trip + cooldown_s: the rule's action applies (policyd
//     defers or holds that stream x operator; freeze_ramp stops the stream's
//     ramp from advancing). Results while open are NOT counted: they are
//     mostly retries of mail queued before the trip, and counting them would
//     keep the breaker open for as long as the queue drains. The window starts
//     empty at each trip.
//   - recovering for recovery_s: policyd lets through a growing share of the
//     cap, recovery_fraction(): kRecoveryFloor at the start, rising linearly
//     to 1 at the end. Matching results count again; a full window trips it
//     open again with a fresh cool-down. recovery_s = 0 skips this phase.
//   - closed again afterwards.
//
// Memory is bounded: a breaker keeps at most `threshold` times (all a trip
// needs; older ones are dropped first), the number of (stream, operator)
// keys is capped (Limits::max_keys; results for further keys are dropped and
// counted), and the delivery counts per stream are a fixed ring of buckets.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "formats/maillog.hpp"
#include "rules/classifier.hpp"
#include "rules/mx_operator.hpp"
#include "rules/result_match.hpp"

namespace sg::breaker {

// The share of the cap a breaker lets through when recovery begins.
inline constexpr double kRecoveryFloor = 0.1;
// Buckets of the per-stream delivery counts (window / kRateBuckets each).
inline constexpr std::size_t kRateBuckets = 60;

struct Event {
  int64_t time_ms = 0;
  std::string stream;
  std::string op;  // receiving operator; "" when unknown
  maillog::Status status = maillog::Status::deferred;
  std::string dsn;        // "4.7.0"
  std::string text;       // the result's detail (remote reply, or why no server answered)
  std::string recipient;  // to=<...>; "" on an expiry line (suppression learns from it)
  std::string reply;      // the remote server's reply within `text`; "" when none answered
};

enum class State { closed, open, recovering };
const char* to_string(State s);

struct Verdict {
  State state = State::closed;
  BreakerAction action = BreakerAction::defer;
  std::string rule;    // the rule that tripped ("" when closed)
  std::string reason;  // for logs and /status; names rule, count, window, until
  // What the replies say after the rule's name: "saw 5 deferred results
  // matching dsn 4.7.0 within 600s (threshold 5)". No double quotes: policyd
  // logs a reply inside reply="...".
  std::string cause;
  uint32_t count = 0;  // matching results that tripped it
  uint32_t window_s = 0;
  int64_t opened_ms = 0;  // when it tripped
  int64_t until_ms = 0;   // open: end of the cool-down; recovering: end of recovery
  double fraction =
      1.0;  // share of the cap allowed: 0 open, kRecoveryFloor..1 recovering, 1 closed
};

// A breaker that is open or recovering.
struct Tripped {
  std::string stream;
  std::string op;
  Verdict verdict;
};

struct DeliveryCounts {
  uint64_t sent = 0;
  uint64_t deferred = 0;
  uint64_t bounced = 0;
  uint64_t expired = 0;
  uint64_t total() const { return sent + deferred + bounced + expired; }
  // sent / total; nullopt when there was nothing.
  std::optional<double> delivery_ratio() const;
};

// kRecoveryFloor at `from`, rising linearly to 1 at `to`; 1 when to <= from.
double recovery_fraction(int64_t from_ms, int64_t to_ms, int64_t now_ms);

class Breaker {
 public:
  struct Limits {
    std::size_t max_keys = 4096;    // (stream, operator) pairs remembered
    uint32_t rate_window_s = 3600;  // window of counts()
  };

  explicit Breaker(std::vector<BreakerRule> rules);
  Breaker(std::vector<BreakerRule> rules, Limits limits);

  // Counts the event and runs the rules; returns the verdicts of the
  // breakers this event tripped open (usually none), for logging.
  std::vector<Verdict> record(const Event& e);

  // The breaker state of a stream x operator at `now`: the most severe of
  // its rules' (open before recovering before closed; among open ones hold,
  // then defer, then freeze_ramp; then the latest until).
  Verdict state(std::string_view stream, std::string_view op, int64_t now_ms) const;
  // A freeze_ramp breaker of the stream (any operator) is open or recovering.
  bool ramp_frozen(std::string_view stream, int64_t now_ms) const;
  // Every breaker open or recovering at `now`, sorted by stream, operator.
  std::vector<Tripped> tripped(int64_t now_ms) const;

  // Results of the stream within the last rate_window_s (to the bucket) before now.
  DeliveryCounts counts(std::string_view stream, int64_t now_ms) const;
  // Results of the stream since this Breaker was made (for counters).
  DeliveryCounts totals(std::string_view stream) const;
  // Events dropped because max_keys (stream, operator) pairs were known.
  uint64_t dropped() const { return dropped_; }

  const std::vector<BreakerRule>& rules() const { return rules_; }

 private:
  struct Cell {                 // one rule on one (stream, operator)
    std::deque<int64_t> times;  // matching results while not open, oldest first
    bool ever_opened = false;
    int64_t opened_ms = 0;
    int64_t until_ms = 0;      // end of cool-down
    int64_t recovered_ms = 0;  // end of recovery
    uint32_t count = 0;        // that tripped it
  };
  struct Bucket {
    int64_t index = -1;
    std::array<uint64_t, maillog::kStatusCount> n{};
  };
  struct StreamCounts {
    std::vector<Bucket> ring;
    std::array<uint64_t, maillog::kStatusCount> total{};
  };
  using Key = std::pair<std::string, std::string>;  // (stream, operator)
  using KeyView = std::pair<std::string_view, std::string_view>;
  struct KeyLess {  // lets cells_ be searched with a KeyView
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      const std::string_view a1 = a.first, b1 = b.first;
      if (a1 != b1) return a1 < b1;
      return std::string_view(a.second) < std::string_view(b.second);
    }
  };

  bool matches(std::size_t rule, const Event& e) const;
  Verdict verdict(std::size_t rule, const Key& key, const Cell& c, int64_t now_ms) const;

  std::vector<BreakerRule> rules_;
  std::vector<rules::CompiledMatch> compiled_;
  Limits limits_;
  int64_t bucket_ms_;
  std::map<Key, std::vector<Cell>, KeyLess> cells_;  // one Cell per rule
  std::map<std::string, StreamCounts, std::less<>> streams_;
  uint64_t dropped_ = 0;
};

// Log results -> events: the stream from the service that logged the line
// (a stream's postfix.transport), the operator from the relay host (the MX
// that answered, by mx_suffixes) or else the recipient domain (the static
// [operators.NAME] domains).
class EventMapper {
 public:
  explicit EventMapper(const Config& cfg);

  // "" when no stream's transport logged the line.
  std::string stream_for(const maillog::Delivery& d) const;
  // "" when neither the relay host nor the recipient domain is known.
  std::string operator_for(const maillog::Delivery& d) const;
  // nullopt when the line is of no stream.
  std::optional<Event> event(const maillog::Delivery& d, int64_t time_ms) const;

 private:
  std::map<std::string, std::string, std::less<>> stream_by_transport_;
  MxOperatorMap mx_;
  Classifier domains_;
};

}  // namespace sg::breaker
