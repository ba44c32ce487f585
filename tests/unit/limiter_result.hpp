// What the Redis limiter would report, for tests of the pure decision
// functions (rules/decision.hpp): one refusal by one limiter of a plan.
#pragma once

#include <cstddef>

#include "rules/decision.hpp"

namespace sg::testing {

// A refusal by limiter `index` of the plan, with this state (marked refused).
inline LimiterResult refused_by(const LimiterPlan& plan, std::size_t index, LimiterState st) {
  LimiterResult r;
  r.allowed = false;
  r.denied = static_cast<int>(index);
  r.states.resize(plan.limiters.size());
  st.refused = true;
  r.states[index] = st;
  return r;
}

}  // namespace sg::testing
