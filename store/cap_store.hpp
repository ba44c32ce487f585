// The caps as the daemons use them: the seam between policyd's decisions (and
// rampd's releases of held mail) and the store that keeps the counters.
// CapLimiter (store/cap_limiter.hpp) is the Redis implementation; the one fake
// is tests/fakes/fake_cap_store.hpp, so PolicyService and the drainer can be
// unit tested without a server (integration tests keep the real Redis).
//
// Every call is a coroutine on the daemon's Asio loop and completes there.
// A call's arguments are read when it is made, never later: they need not
// outlive it.
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/civil_time.hpp"
#include "rules/decision.hpp"

namespace sg {

// A charge made as a reservation of one transaction (reserve_ms > 0), or
// for good (reserve_ms == 0 or no instance).
struct Reservation {
  int64_t reserve_ms = 0;
  std::string instance;
};

struct SweepResult {
  int64_t instances = 0;  // reservations returned by this call
  int64_t charges = 0;    // charges given back to the budget
  int64_t left = 0;       // expired reservations still waiting (over the per-call limit)
};

// A store's answer: the value, or nullopt and why the store could not answer.
template <class T>
struct Stored {
  std::optional<T> value;
  std::string error;
};

// How long an accepted message's charges stay refundable. A milter answers
// within seconds of END-OF-MESSAGE; the hour covers rampd reading the log
// late (a restart, a slow round).
inline constexpr int64_t kAcceptedKeepMs = 3600 * 1000;

class CapStore {
 public:
  virtual ~CapStore() = default;

  // False while the store cannot be reached: callers take their degraded
  // path at once instead of waiting.
  virtual bool ready() const = 0;

  // Charges one recipient against every cap of `plan`, all or none.
  virtual boost::asio::awaitable<Stored<LimiterResult>> charge(const std::string& stream,
                                                               const LimiterPlan& plan,
                                                               int64_t now_ms, const CivilDay& day,
                                                               const Reservation& reservation) = 0;
  // Makes a transaction's reservations final; the charges committed. With
  // a queue id (policyd at END-OF-MESSAGE), what they charged is kept under
  // it for kAcceptedKeepMs, for refund().
  virtual boost::asio::awaitable<Stored<int64_t>> commit(const std::string& stream,
                                                         const std::string& instance,
                                                         const std::string& queue_id) = 0;
  // rampd, when the Postfix log says a milter refused the message `queue_id`
  // after END-OF-MESSAGE: gives back what commit() kept under it; the
  // charges returned (0 once given back, or after kAcceptedKeepMs).
  virtual boost::asio::awaitable<Stored<int64_t>> refund(const std::string& stream,
                                                         const std::string& queue_id,
                                                         int64_t now_ms) = 0;
  // Gives one transaction's reservations back now; the charges returned.
  virtual boost::asio::awaitable<Stored<int64_t>> cancel(const std::string& stream,
                                                         const std::string& instance,
                                                         int64_t now_ms) = 0;
  // Gives back the reservations whose deadline has passed, at most `limit`.
  virtual boost::asio::awaitable<Stored<SweepResult>> sweep(const std::string& stream,
                                                            int64_t now_ms, int64_t limit) = 0;

  // rampd, before it releases a held message: the reservation's deadline
  // moves to `until_ms` (no sweep gives it back while the release's outcome
  // is unknown) and releasing() lists it until commit() or cancel() settles
  // it. The charges it holds.
  virtual boost::asio::awaitable<Stored<int64_t>> mark_releasing(const std::string& stream,
                                                                 const std::string& instance,
                                                                 int64_t now_ms,
                                                                 int64_t until_ms) = 0;
  // The instances marked releasing and not settled.
  virtual boost::asio::awaitable<Stored<std::vector<std::string>>> releasing(
      const std::string& stream) = 0;
};

}  // namespace sg
