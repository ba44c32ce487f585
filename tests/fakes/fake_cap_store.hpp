// The one fake of the caps store (store/cap_store.hpp), for unit tests of
// what sits on it (PolicyService, the drainer) without a Redis server. It
// counts each limiter of a plan as a plain counter against the plan's
// fallback cap (no smooth rate, no time: the limiter scripts themselves are
// tested against a real Redis), keeps reservations per instance, records
// every call, and can be made unreachable or failing.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/cap_store.hpp"

namespace sg::testing {

class FakeCapStore final : public sg::CapStore {
 public:
  bool up = true;         // ready()
  std::string fail_with;  // non-empty: every call answers this error
  // An open breaker for the next charges (Action::dunno: none).
  Action breaker = Action::dunno;
  std::vector<std::string> calls;            // "charge STREAM", "commit STREAM INSTANCE", ...
  std::map<std::string, int64_t> used;       // "STREAM/WINDOW/OP" -> charges
  std::map<std::string, int64_t> reserved;   // "STREAM/INSTANCE" -> charges not yet final
  std::map<std::string, int64_t> committed;  // "STREAM/INSTANCE" -> charges made final
  std::map<std::string, std::set<std::string>> releasing_set;  // stream -> instances
  std::map<std::string, std::vector<std::string>> records;     // "STREAM/INSTANCE" -> used keys
  std::map<std::string, std::vector<std::string>> accepted;    // "STREAM/QUEUE_ID" -> used keys
  // Suppression entries in force (field "a:ADDR" / "d:DOMAIN" -> record):
  // a charge whose plan names one is refused before anything moves.
  std::map<std::string, std::string> suppressed;
  // The next this many charges act (the counters move) but answer an error:
  // a reply lost after the store acted, a deadline that fired too late.
  int lose_replies = 0;

  bool ready() const override { return up; }

  boost::asio::awaitable<Stored<LimiterResult>> charge(const std::string& stream,
                                                       const LimiterPlan& plan, int64_t,
                                                       const CivilDay&,
                                                       const Reservation& resv) override {
    calls.push_back("charge " + stream);
    Stored<LimiterResult> out;
    if (!fail_with.empty()) {
      out.error = fail_with;
      return ready_value(std::move(out));
    }
    LimiterResult r;
    for (const auto& f : plan.suppress_fields) {
      if (auto it = suppressed.find(f); it != suppressed.end()) {
        r.allowed = false;
        r.suppressed_field = f;
        r.suppressed_record = it->second;
        r.states.resize(plan.limiters.size());
        out.value = std::move(r);
        return ready_value(std::move(out));
      }
    }
    r.breaker = breaker;
    r.allowed = breaker == Action::dunno;
    r.states.resize(plan.limiters.size());
    for (std::size_t i = 0; i < plan.limiters.size() && r.breaker == Action::dunno; ++i) {
      const auto& l = plan.limiters[i];
      auto& st = r.states[i];
      st.cap = l.fallback;
      st.used = used[key(stream, l)];
      if (l.fallback >= 0 && st.used + 1 > l.fallback) {
        st.refused = true;
        st.retry_ms = l.fallback == 0 ? -1 : 60'000;
        if (r.allowed) r.denied = static_cast<int>(i);
        r.allowed = false;
      }
    }
    if (r.allowed) {
      const bool reserving = resv.reserve_ms > 0 && !resv.instance.empty();
      for (const auto& l : plan.limiters) {
        ++used[key(stream, l)];
        if (reserving) records[stream + "/" + resv.instance].push_back(key(stream, l));
      }
      if (reserving) ++reserved[stream + "/" + resv.instance];
    }
    if (lose_replies > 0) {
      --lose_replies;
      out.error = "redis: no reply within 2000 ms";
      return ready_value(std::move(out));
    }
    out.value = std::move(r);
    return ready_value(std::move(out));
  }

  boost::asio::awaitable<Stored<int64_t>> commit(const std::string& stream,
                                                 const std::string& instance,
                                                 const std::string& queue_id) override {
    calls.push_back("commit " + stream + " " + instance +
                    (queue_id.empty() ? "" : " queue_id=" + queue_id));
    if (!fail_with.empty()) return ready_value(Stored<int64_t>{std::nullopt, fail_with});
    const int64_t n = take(stream + "/" + instance);
    committed[stream + "/" + instance] += n;
    // Kept under the queue id for refund(), as reservations.lua does.
    if (!queue_id.empty() && n > 0)
      accepted[stream + "/" + queue_id] = records[stream + "/" + instance];
    records.erase(stream + "/" + instance);
    releasing_set[stream].erase(instance);
    return ready_value(Stored<int64_t>{n, {}});
  }

  boost::asio::awaitable<Stored<int64_t>> refund(const std::string& stream,
                                                 const std::string& queue_id, int64_t) override {
    calls.push_back("refund " + stream + " " + queue_id);
    if (!fail_with.empty()) return ready_value(Stored<int64_t>{std::nullopt, fail_with});
    auto it = accepted.find(stream + "/" + queue_id);
    if (it == accepted.end()) return ready_value(Stored<int64_t>{0, {}});
    const auto n = static_cast<int64_t>(it->second.size());
    for (const auto& k : it->second) --used[k];
    accepted.erase(it);
    return ready_value(Stored<int64_t>{n, {}});
  }

  boost::asio::awaitable<Stored<int64_t>> cancel(const std::string& stream,
                                                 const std::string& instance, int64_t) override {
    calls.push_back("cancel " + stream + " " + instance);
    if (!fail_with.empty()) return ready_value(Stored<int64_t>{std::nullopt, fail_with});
    releasing_set[stream].erase(instance);
    // What a cancel gives back leaves the counters, as reservations.lua does.
    for (const auto& k : records[stream + "/" + instance]) --used[k];
    records.erase(stream + "/" + instance);
    return ready_value(Stored<int64_t>{take(stream + "/" + instance), {}});
  }

  boost::asio::awaitable<Stored<int64_t>> mark_releasing(const std::string& stream,
                                                         const std::string& instance, int64_t,
                                                         int64_t) override {
    calls.push_back("release " + stream + " " + instance);
    if (!fail_with.empty()) return ready_value(Stored<int64_t>{std::nullopt, fail_with});
    releasing_set[stream].insert(instance);
    auto it = reserved.find(stream + "/" + instance);
    return ready_value(Stored<int64_t>{it == reserved.end() ? 0 : it->second, {}});
  }

  boost::asio::awaitable<Stored<std::vector<std::string>>> releasing(
      const std::string& stream) override {
    calls.push_back("releasing " + stream);
    if (!fail_with.empty())
      return ready_value(Stored<std::vector<std::string>>{std::nullopt, fail_with});
    const auto& set = releasing_set[stream];
    return ready_value(
        Stored<std::vector<std::string>>{std::vector<std::string>(set.begin(), set.end()), {}});
  }

  boost::asio::awaitable<Stored<SweepResult>> sweep(const std::string& stream, int64_t,
                                                    int64_t) override {
    calls.push_back("sweep " + stream);
    if (!fail_with.empty()) return ready_value(Stored<SweepResult>{std::nullopt, fail_with});
    return ready_value(Stored<SweepResult>{SweepResult{}, {}});
  }

  static std::string key(const std::string& stream, const LimiterSpec& l) {
    return stream + "/" + l.window + "/" + l.op;
  }

 private:
  int64_t take(const std::string& k) {
    auto it = reserved.find(k);
    if (it == reserved.end()) return 0;
    const int64_t n = it->second;
    reserved.erase(it);
    return n;
  }
  // The answer is computed when the call is made (as CapStore promises);
  // the awaitable only hands it over.
  template <class T>
  static boost::asio::awaitable<T> ready_value(T value) {
    co_return value;
  }
};

}  // namespace sg::testing
