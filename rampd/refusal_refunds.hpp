// Mail a milter refused after END-OF-MESSAGE gets its charges back.
//
// With [policyd] commit = "end_of_message", policyd commits a message's
// charges when Postfix asks at END-OF-MESSAGE, which Postfix does before
// the milters give their own end-of-message verdict. A message a milter
// then refuses (unsigned, HTML-only with "reject" or "tempfail") never
// leaves, but would stay charged: a stream whose mail the milter keeps
// refusing would spend its cap on nothing. policyd keeps what it committed
// under the queue id (store/lua/reservations.lua "commit"); cleanup's line
//   QID: milter-reject: END-OF-MESSAGE from HOST[IP]: 4.7.0 ...
// names the message, and rampd gives its charges back ("refund"). The line
// does not name the stream (cleanup serves them all), so every stream is
// asked: only the one that charged the message has a record under its
// queue id. Without commit = "end_of_message" the charge was final at RCPT
// and nothing is kept.
//
//   refusals_to_refund: the log lines -> the messages to give back (pure);
//   RefusalRefunds:     gives them back, retries what Redis did not take,
//                       and counts what came back, by stream (/metrics).
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "store/cap_store.hpp"

namespace sg::rampd {

struct RefusedMessage {
  std::string queue_id;
  std::string reply;  // what the milter told the client: "5.7.1 ..."
};

std::vector<RefusedMessage> refusals_to_refund(const Config& cfg,
                                               const std::vector<std::string>& lines);

struct RefundCounts {
  uint64_t messages = 0;  // refused messages whose charges came back
  uint64_t charges = 0;   // the charges they had made
};

class RefusalRefunds {
 public:
  explicit RefusalRefunds(CapStore& store) : store_(store) {}

  // Gives back the charges of the messages the lines say a milter refused,
  // and of those a failed call left from earlier rounds.
  boost::asio::awaitable<void> run(const Config& cfg, const std::vector<std::string>& lines,
                                   int64_t now_ms);

  const std::map<std::string, RefundCounts>& counts() const { return counts_; }
  // Messages waiting for Redis to take their refund.
  std::size_t pending() const { return pending_.size(); }

 private:
  CapStore& store_;
  std::vector<RefusedMessage> pending_;
  std::map<std::string, RefundCounts> counts_;  // by stream
};

}  // namespace sg::rampd
