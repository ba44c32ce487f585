// Drains held mail (issue 5 item 5). policyd answers HOLD when a stream is
// over its cap (and on Redis or DNS trouble when so configured); Postfix
// parks the whole message in its hold queue. `postsuper -H` releases it
// without running policy again, so the drainer charges the caps itself:
//
//   - The queue is read with `postqueue -j`; a held message's stream comes
//     from its queue file's content_filter (`postcat -e`): each stream's
//     submission service sets content_filter=TRANSPORT:, so Postfix itself
//     recorded which port the mail came in on.
//   - Per stream, oldest first, each recipient goes through the check policyd
//     answers RCPT with (recipient/recipient_check.hpp: lists, operator by
//     static map or by MX, exclusions, [dns] on_failure), then is charged
//     through policyd's own limiter script (same caps, same breakers) as a
//     reservation of the instance "rampd-QUEUEID". A message is released
//     when all its recipients are charged: `postsuper -H ID`, then the
//     reservation is committed and `postqueue -i ID` asks for delivery now.
//     A failed release gives the charges back.
//   - A stream cap that refuses stops the stream for this round (the budget
//     returns in time; the message keeps what it has charged so far, so a
//     message with more recipients than the burst still gets out). An
//     operator cap or breaker that refuses, or an MX lookup that failed with
//     on_failure = "hold"/"defer", skips that message (its charges are given
//     back) so the others are not stuck behind it; why is logged once.
//   - A recipient the stream must not mail now (its domain joined an
//     excluded list while the mail waited; a custom domain on Yahoo's MX
//     held because DNS failed): never released to. A message all of whose
//     recipients are refused is returned to its sender (`postsuper -f ID`:
//     Postfix bounces it as expired); one with other recipients too stays
//     held, reported, for the operator to decide (Postfix cannot release a
//     message to some of its recipients only).
//   - A release cannot drift the counters: before `postsuper -H` the
//     reservation is marked releasing in Redis (store/lua/reservations.lua
//     "release": no sweep returns it). Each round first settles every mark
//     an earlier round left (rampd stopped, postsuper failed or timed out,
//     the commit's reply was lost): the message still held -> its charges
//     are given back; gone from the hold queue -> they are committed. A
//     charge whose reply was lost (a Redis deadline that fired after the
//     script ran) marks the message dirty: its reservation is cancelled
//     (idempotent) before it is charged again. So are the messages of the
//     first round after a start, for what an earlier rampd left reserved.
//   - A message released is remembered and never charged or released again.
//   - Mail held longer than held_warn_s is reported (log, once per message,
//     and a gauge); it is never expired or deleted here.
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/command.hpp"
#include "common/config.hpp"
#include "common/metrics.hpp"
#include "formats/held_queue.hpp"
#include "formats/queue_helper_protocol.hpp"
#include "recipient/mx_resolver.hpp"
#include "recipient/recipient_check.hpp"
#include "recipient/runtime.hpp"
#include "store/cap_store.hpp"

namespace sg::rampd {

struct StreamHeld {
  uint64_t held = 0;            // messages of the stream in the hold queue
  uint64_t held_over_warn = 0;  // of them, held longer than held_warn_s
  int64_t oldest_age_s = 0;
  uint64_t released_total = 0;
  uint64_t recipients_released_total = 0;
  uint64_t waiting = 0;           // skipped in the last round: an operator cap, breaker or DNS
  uint64_t held_refused = 0;      // kept: some (not all) of its recipients are refused
  uint64_t returned_total = 0;    // every recipient refused: returned to the sender
  uint64_t suppressed_total = 0;  // a recipient found suppressed when charged
};

struct DrainStatus {
  std::map<std::string, StreamHeld> streams;
  uint64_t held_of_no_stream = 0;  // held mail no stream's transport is on
  uint64_t release_failures_total = 0;
  std::string problem;  // the last round's trouble ("" when it went through)
};

class Drainer {
 public:
  // How long a partly charged message keeps its reservation.
  static constexpr int64_t kReserveMs = 15 * 60 * 1000;
  // How long a release's charges wait for settling before a sweep may
  // return them (by then the day's counters have expired anyway).
  static constexpr int64_t kSettleWithinMs = 24 * 3600 * 1000;
  static constexpr const char* kInstancePrefix = "rampd-";

  // Charges held mail on `store`, policyd's caps (store/cap_store.hpp); the
  // MX lookups' metrics go to `registry`.
  Drainer(boost::asio::io_context& io, boost::asio::thread_pool& pool, CapStore& store,
          metrics::Registry& registry);
  ~Drainer();

  // One round over the hold queue.
  boost::asio::awaitable<void> run_once(std::shared_ptr<const Config> cfg, int64_t now_ms);

  const DrainStatus& status() const { return status_; }
  // The deadline of each Postfix command (30 s; tests shorten it).
  void set_command_timeout_ms(uint32_t ms) { command_timeout_ms_ = ms; }

 private:
  struct Known {
    std::string stream;  // "" : not a stream's
    std::vector<std::string> recipients;
    int64_t arrival_s = 0;
    std::size_t charged = 0;  // recipients charged so far (the reservation)
    int64_t last_charge_ms = 0;
    bool warned = false;
    std::string waiting;               // why it last waited (a verdict's reason), logged once
    std::vector<std::string> refused;  // "address: reply" of the recipients refused now
    std::string refused_said;          // the refusal last logged (logged again when it changes)
    // Its reservation may hold charges not counted in `charged` (a lost
    // reply, an earlier rampd): cancelled before the next charge.
    bool dirty = false;
  };
  enum class Charge { all, stream_blocked, skip, refused, error };
  // Per stream: (arrival, queue id), oldest first.
  using Queues = std::map<std::string, std::vector<std::pair<int64_t, std::string>>>;

  // Lists the hold queue (in_hold_) and forgets what left it. False when
  // the queue cannot be read.
  boost::asio::awaitable<bool> list_hold_queue(const Config& cfg);
  // Reads the envelope of each held message not seen before.
  boost::asio::awaitable<void> read_new_envelopes(const Config& cfg);
  boost::asio::awaitable<std::optional<held::Envelope>> read_envelope(const Config& cfg,
                                                                      const std::string& queue_id);
  // Counts held mail per stream into the status (and warns of the old).
  Queues tally(const Config& cfg, int64_t now_ms);
  // Charges and releases one stream's held mail, oldest first, until its
  // cap refuses. False when the store failed: the round ends.
  boost::asio::awaitable<bool> drain_stream(
      const Config& cfg, const StreamConfig& s,
      const std::vector<std::pair<int64_t, std::string>>& queue, int64_t now_ms);

  // PROGRAM [-c postfix_config_dir] ARGS..., from postfix_command_dir.
  std::vector<std::string> postfix_command(const Config& cfg, const char* program,
                                           std::initializer_list<std::string> args) const;
  // Runs it on the pool, so the loop keeps serving while it waits.
  boost::asio::awaitable<command::Result> run_off_loop(std::vector<std::string> argv);
  // postsuper -H/-f and postcat -e -q, the commands that need root: run here,
  // or asked of streamguard-queue-helper when [rampd] queue_helper names it.
  // queue_argv is the command run here, or "queue-helper:PATH VERB ID" (what
  // the log shows); run_queue_command takes it so it is built once.
  std::vector<std::string> queue_argv(const Config& cfg, queue_helper::Verb verb,
                                      const std::string& id) const;
  boost::asio::awaitable<command::Result> run_queue_command(const Config& cfg,
                                                            queue_helper::Verb verb, std::string id,
                                                            std::vector<std::string> argv);
  // The runtime (lists, operators) and the MX lookup for this config; false
  // (and the problem set) when its lists cannot be read.
  bool use_config(const std::shared_ptr<const Config>& cfg);
  boost::asio::awaitable<Charge> charge(const StreamConfig& s, const std::string& id, Known& k,
                                        int64_t now_ms);
  void note_wait(const std::string& id, Known& k, const StreamConfig& s, const Verdict& v);
  // Every recipient refused: return it to its sender; some: keep it held, say so.
  boost::asio::awaitable<void> refuse(const Config& cfg, const StreamConfig& s,
                                      const std::string& id, Known& k, int64_t now_ms);
  boost::asio::awaitable<bool> release(const Config& cfg, const StreamConfig& s,
                                       const std::string& id, Known& k, int64_t now_ms);
  // Cancels the message's reservation; false (and the problem set) when the
  // store failed: it stays dirty.
  boost::asio::awaitable<bool> give_back(const std::string& stream, const std::string& id, Known& k,
                                         int64_t now_ms);
  // postqueue -i ID: a message just released from hold (to the deferred
  // queue) goes now, not at the next queue run; a failure is only logged.
  boost::asio::awaitable<void> deliver_now(const Config& cfg, const std::string& id);
  // Settles the releases earlier rounds marked and did not finish.
  boost::asio::awaitable<bool> settle(const Config& cfg, int64_t now_ms);
  static std::string instance_of(const std::string& queue_id) { return kInstancePrefix + queue_id; }
  boost::asio::io_context& io_;
  boost::asio::thread_pool& pool_;
  CapStore& store_;
  metrics::Registry& registry_;
  SystemClock clock_;                          // the MX cache's
  std::shared_ptr<const Config> runtime_for_;  // the config runtime_ was built from
  std::shared_ptr<const Runtime> runtime_;     // null while its lists cannot be read
  std::string runtime_problem_;
  std::unique_ptr<MxLookup> mx_;             // made when a stream needs MX lookups
  std::map<std::string, Known> known_;       // queue id -> what we know of it
  std::map<std::string, int64_t> released_;  // queue id -> when released or returned (a day)
  std::map<std::string, int64_t> in_hold_;   // the hold queue as this round read it: id -> arrival
  bool first_round_ = true;
  uint32_t command_timeout_ms_ = 30'000;
  DrainStatus status_;
};

}  // namespace sg::rampd
