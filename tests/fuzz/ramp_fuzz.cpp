// libFuzzer target: parse_stamp on arbitrary text, and a ramp driven through
// advance() by a schedule and a run of mornings derived from the input.
// Traps on a broken invariant:
//   - a parsed stamp is in range and reads back the same, written plainly or
//     with whitespace around it; a refusal always says why;
//   - advance() never lowers the day in force, crosses at most one step
//     boundary per civil day (none when the day already stepped, or the clock
//     went back), never goes past the count unless keeping an earlier day,
//     reaches the count unless it says why not, and gives the caps caps_on()
//     gives for the day in force;
//   - send_days() never counts more than calendar_days(), nor more days than
//     the history has;
//   - nothing throws or reads out of bounds (ASan/UBSan).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/ramp.hpp"

namespace {

namespace rp = sg::ramp;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Reads bytes off the input; zeros once it runs out.
class Bytes {
 public:
  explicit Bytes(std::string_view s) : s_(s) {}
  uint8_t next() { return i_ < s_.size() ? static_cast<uint8_t>(s_[i_++]) : 0; }
  uint32_t next16() { return static_cast<uint32_t>(next()) << 8 | next(); }
  bool empty() const { return i_ >= s_.size(); }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

std::size_t step_of(const std::vector<uint32_t>& steps, uint32_t day) {
  auto it = std::upper_bound(steps.begin(), steps.end(), day);
  return static_cast<std::size_t>(it - steps.begin()) - 1;
}

void stamp_invariants(std::string_view text) {
  std::string error;
  auto v = rp::parse_stamp(text, error);
  if (!v) {
    check(!error.empty());
    return;
  }
  check(*v >= 0 && *v < 32503680000);
  std::string again_error;
  check(rp::parse_stamp(std::to_string(*v), again_error) == v);
  check(rp::parse_stamp(" \n" + std::string(text) + "\r\n", again_error) == v);
}

std::vector<sg::RampStep> schedule(Bytes& b, std::size_t max_steps) {
  std::vector<sg::RampStep> steps;
  const std::size_t n = 1 + b.next() % max_steps;
  uint32_t day = 0;
  for (std::size_t i = 0; i < n; ++i) {
    steps.push_back({day, b.next16()});
    day += 1 + b.next() % 12;
  }
  return steps;
}

void ramp_invariants(std::string_view data) {
  Bytes b(data);
  sg::RampConfig ramp;
  ramp.hourly = schedule(b, 6);
  if (b.next() & 1) ramp.daily = schedule(b, 4);
  if (b.next() & 1) ramp.operators["google"] = schedule(b, 3);
  const std::vector<uint32_t> steps = rp::step_days(ramp);
  check(!steps.empty() && steps.front() == 0);
  check(std::is_sorted(steps.begin(), steps.end()));

  const int64_t stamp = 20000 + b.next();
  int64_t today = 20000 + b.next();
  std::optional<rp::RampState> state;
  uint32_t count_day = b.next() % 16;
  for (int morning = 0; morning < 64 && !b.empty(); ++morning) {
    const uint8_t op = b.next();
    // Mostly the next day; sometimes the same day, a gap, or the clock back.
    if (op % 8 < 5)
      today += 1;
    else if (op % 8 == 5)
      today += 1 + b.next() % 10;
    else if (op % 8 == 7)
      today -= b.next() % 3;
    // The count mostly keeps pace; sometimes jumps or drops (stamp moved).
    if (op & 0x10) count_day += 1;
    if (op & 0x20) count_day += b.next() % 20;
    if (op & 0x40) count_day -= std::min<uint32_t>(count_day, b.next() % 10);

    rp::Count count;
    count.day = count_day;
    count.stamp_day = stamp;
    count.stamp_in_future = (op & 0x80) != 0;
    const rp::Advanced a = rp::advance(ramp, state, count, today);
    const rp::RampState& st = a.state;
    check(!a.reason.empty());
    check(st.step_index == step_of(steps, st.day));
    check(a.stamp_in_future == count.stamp_in_future);
    const rp::Caps caps = rp::caps_on(ramp, st.day);
    check(a.caps.hourly == caps.hourly && a.caps.daily == caps.daily &&
          a.caps.operator_daily == caps.operator_daily);
    if (!state) {
      check(a.first_start && st.day == count.day);
    } else {
      const rp::RampState& prev = *state;
      const std::size_t from = step_of(steps, prev.day);
      check(!a.first_start);
      check(st.day >= prev.day);                       // forward only
      check(st.day <= std::max(count.day, prev.day));  // never ahead of the count
      check(st.step_index <= from + 1);                // one step a day at most
      if (today <= prev.stepped_civil_day || today < prev.updated_civil_day)
        check(st.step_index == from);
      check(a.count_went_back == (count.day < prev.day));
      check(a.clock_went_back == (today < prev.updated_civil_day));
      if (!a.held && !a.count_went_back) check(st.day == count.day);
      if (a.held) check(st.day < count.day);
      check(st.updated_civil_day == std::max(today, prev.updated_civil_day));
      check(st.stepped_civil_day == (st.step_index != from ? today : prev.stepped_civil_day));
    }
    state = st;
  }

  // Send days over a history derived from what is left of the input.
  std::vector<rp::SentDay> history;
  int64_t day = stamp - 3;
  while (!b.empty() && history.size() < 64) {
    day += 1 + b.next() % 3;
    history.push_back({rp::day_key(day), b.next()});
  }
  const uint64_t minimum = b.next();
  std::string error;
  auto sent = rp::send_days(history, stamp, today, minimum, error);
  check(sent.has_value());
  check(sent->day <= rp::calendar_days(stamp, today).day);
  check(sent->day <= history.size());
  check(sent->stamp_in_future == (today < stamp));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  stamp_invariants(text);
  ramp_invariants(text);
  return 0;
}
