// The drainer's acts on the queue and their accounting: returning refused
// mail to its sender, releasing mail, giving charges back, and settling a
// release whose end an earlier round did not see (drainer.hpp).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>

#include "rampd/drainer.hpp"

namespace sg::rampd {

boost::asio::awaitable<void> Drainer::refuse(const Config& cfg, const StreamConfig& s,
                                             const std::string& id, Known& k, int64_t now_ms) {
  auto giving_back = give_back(s.name, id, k, now_ms);
  co_await std::move(giving_back);
  std::string list;
  for (const auto& r : k.refused) list += (list.empty() ? "" : "; ") + r;
  if (k.refused.size() < k.recipients.size()) {
    if (k.refused_said != list)
      spdlog::error(
          "held {} (stream {}): {} of its {} recipients must not be mailed now ({}); Postfix "
          "cannot release a message to some recipients only, so it stays held: return it to "
          "its sender with `postsuper -f {}`, or delete it with `postsuper -d {}`",
          id, s.name, k.refused.size(), k.recipients.size(), list, id, id);
    k.refused_said = list;
    co_return;
  }
  // postsuper -f: expire it and release it from hold; the queue manager
  // then returns it to the sender as expired. It is never delivered.
  const auto argv = queue_argv(cfg, queue_helper::Verb::expire, id);
  auto expiring = run_queue_command(cfg, queue_helper::Verb::expire, id, argv);
  auto res = co_await std::move(expiring);
  // postsuper reports "Force-expired: 1 message" on stderr.
  if (!res.ok() || res.err.find("Force-expired: 1 message") == std::string::npos) {
    ++status_.release_failures_total;
    spdlog::error("held {} (stream {}): refused ({}), but returning it to its sender failed: {}",
                  id, s.name, list,
                  res.ok() ? "postsuper expired nothing (already released or deleted?)"
                           : command::describe(res, argv));
    co_return;
  }
  // Released to the deferred queue: bounced at once, not at the next queue run.
  auto flushing = deliver_now(cfg, id);
  co_await std::move(flushing);
  ++status_.streams[s.name].returned_total;
  released_[id] = now_ms;
  spdlog::warn("held {} (stream {}): returned to its sender, never released: {}", id, s.name, list);
}

boost::asio::awaitable<bool> Drainer::give_back(const std::string& stream, const std::string& id,
                                                Known& k, int64_t now_ms) {
  if (k.charged == 0 && !k.dirty) co_return true;
  auto cancelling = store_.cancel(stream, instance_of(id), now_ms);
  Stored<int64_t> r = co_await std::move(cancelling);
  k.charged = 0;
  if (!r.value) {
    // Tried again before its next charge (cancel is idempotent).
    k.dirty = true;
    status_.problem = "giving back the charges of held " + id + ": " + r.error;
    co_return false;
  }
  k.dirty = false;
  co_return true;
}

boost::asio::awaitable<bool> Drainer::release(const Config& cfg, const StreamConfig& s,
                                              const std::string& id, Known& k, int64_t now_ms) {
  // First the mark: if rampd stops, or postsuper hangs, after releasing the
  // message, the next round still knows the charges were for mail that left.
  auto marking = store_.mark_releasing(s.name, instance_of(id), now_ms, now_ms + kSettleWithinMs);
  Stored<int64_t> m = co_await std::move(marking);
  if (!m.value) {
    k.dirty = true;  // the mark may have been made: settled or given back next round
    status_.problem = "marking held " + id + " as being released: " + m.error;
    co_return false;
  }
  const auto argv = queue_argv(cfg, queue_helper::Verb::release, id);
  auto postsuper = run_queue_command(cfg, queue_helper::Verb::release, id, argv);
  auto res = co_await std::move(postsuper);
  // postsuper reports "Released from hold: 1 message" on stderr.
  const bool released =
      res.ok() && res.err.find("Released from hold: 1 message") != std::string::npos;
  if (!released) {
    ++status_.release_failures_total;
    spdlog::error(
        "held {} (stream {}): not released: {}; the next round looks whether it left the hold "
        "queue, and commits or gives back its charges",
        id, s.name,
        res.ok() ? "postsuper released nothing (already released or deleted?)"
                 : command::describe(res, argv));
    co_return false;
  }
  // No queue id to keep the charges under: a held message passed the
  // milters before it was held, so none refuses it now.
  auto committing = store_.commit(s.name, instance_of(id), "");
  Stored<int64_t> c = co_await std::move(committing);
  if (!c.value)
    spdlog::warn("held {}: released; committing its charges failed ({}): the next round does it",
                 id, c.error);
  auto flushing = deliver_now(cfg, id);
  co_await std::move(flushing);
  auto& st = status_.streams[s.name];
  ++st.released_total;
  st.recipients_released_total += k.recipients.size();
  spdlog::info("released held {} (stream {}, {} recipient{}, held {}s)", id, s.name,
               k.recipients.size(), k.recipients.size() == 1 ? "" : "s",
               std::max<int64_t>(0, now_ms / 1000 - k.arrival_s));
  released_[id] = now_ms;
  co_return true;
}

boost::asio::awaitable<bool> Drainer::settle(const Config& cfg, int64_t now_ms) {
  for (const auto& s : cfg.streams) {
    auto listing = store_.releasing(s.name);
    Stored<std::vector<std::string>> r = co_await std::move(listing);
    if (!r.value) {
      status_.problem = "reading the releases of stream " + s.name + ": " + r.error;
      co_return false;
    }
    for (const auto& instance : *r.value) {
      if (instance.rfind(kInstancePrefix, 0) != 0) continue;
      const std::string id = instance.substr(std::string_view(kInstancePrefix).size());
      // Still held: postsuper did not release it. Gone from hold: it did.
      const bool held = in_hold_.count(id) > 0;
      auto settling =
          held ? store_.cancel(s.name, instance, now_ms) : store_.commit(s.name, instance, "");
      Stored<int64_t> c = co_await std::move(settling);
      if (!c.value) {
        status_.problem = "settling the release of held " + id + ": " + c.error;
        co_return false;
      }
      if (held) {
        if (auto it = known_.find(id); it != known_.end()) it->second.charged = 0;
        spdlog::warn(
            "held {} (stream {}): its release did not happen; its charges are given back and it "
            "waits its turn again",
            id, s.name);
        continue;
      }
      ++status_.streams[s.name].released_total;
      released_[id] = now_ms;
      spdlog::warn(
          "held {} (stream {}): it left the hold queue in a release whose end rampd did not see "
          "(rampd stopped, or postsuper timed out after releasing it); its charges are committed",
          id, s.name);
      // That release never asked for delivery now: a released message waits
      // in the deferred queue for the next queue run otherwise.
      auto flushing = deliver_now(cfg, id);
      co_await std::move(flushing);
    }
  }
  co_return true;
}

boost::asio::awaitable<void> Drainer::deliver_now(const Config& cfg, const std::string& id) {
  const auto argv = postfix_command(cfg, "postqueue", {"-i", id});
  auto flushing = run_off_loop(argv);
  auto f = co_await std::move(flushing);
  if (!f.ok())
    spdlog::warn(
        "held {}: released to the deferred queue; asking for delivery now failed ({}): "
        "it goes at the next queue run",
        id, command::describe(f, argv));
}

}  // namespace sg::rampd
