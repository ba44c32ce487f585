#include "rampd/refusal_refunds.hpp"

#include <spdlog/spdlog.h>

#include "formats/maillog.hpp"

namespace sg::rampd {

namespace {

// Refunds that wait while Redis cannot take them: beyond this, a new one is
// dropped and logged (its charges stay: counted high, never mail let
// through).
constexpr std::size_t kMaxPending = 10000;

}  // namespace

std::vector<RefusedMessage> refusals_to_refund(const Config& cfg,
                                               const std::vector<std::string>& lines) {
  std::vector<RefusedMessage> out;
  if (cfg.policyd.commit != Commit::end_of_message) return out;
  for (const auto& line : lines) {
    // Cheap test first: most lines are not a milter's refusal.
    if (line.find("milter-reject: END-OF-MESSAGE") == std::string::npos) continue;
    auto m = maillog::parse_milter_refusal(line);
    if (!m || m->stage != "END-OF-MESSAGE") continue;
    out.push_back({std::move(m->queue_id), std::move(m->reply)});
  }
  return out;
}

boost::asio::awaitable<void> RefusalRefunds::run(const Config& cfg,
                                                 const std::vector<std::string>& lines,
                                                 int64_t now_ms) {
  std::vector<RefusedMessage> todo = std::move(pending_);
  pending_.clear();
  for (auto& m : refusals_to_refund(cfg, lines)) todo.push_back(std::move(m));
  for (auto& m : todo) {
    std::string error;
    for (const auto& s : cfg.streams) {
      auto refunding = store_.refund(s.name, m.queue_id, now_ms);
      Stored<int64_t> r = co_await std::move(refunding);
      if (!r.value) {
        error = r.error;
        continue;
      }
      // 0: not this stream's message, or nothing kept (committed over an
      // hour ago, given back already, or a commit that failed, whose
      // reservation the sweep returns).
      if (*r.value == 0) continue;
      auto& c = counts_[s.name];
      ++c.messages;
      c.charges += static_cast<uint64_t>(*r.value);
      spdlog::info(
          "refund: stream {}: message {} was refused by a milter after END-OF-MESSAGE ({}); the "
          "{} charge(s) it made against the stream's caps are given back",
          s.name, m.queue_id, m.reply, *r.value);
      error.clear();
      break;
    }
    if (error.empty()) continue;
    if (pending_.size() >= kMaxPending) {
      spdlog::error("refund: {} refunds wait for Redis already; message {} stays charged",
                    kMaxPending, m.queue_id);
      continue;
    }
    spdlog::warn(
        "refund: message {} a milter refused stays charged for now ({}); retrying next "
        "round",
        m.queue_id, error);
    pending_.push_back(std::move(m));
  }
}

}  // namespace sg::rampd
