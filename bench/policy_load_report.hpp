// streamguard-policy-load's result: what a run counted and measured, and
// its printing as text for a person or as one JSON line for a script
// (bench/run-policyd-bench.sh reads the latter).
#pragma once

#include <cstdint>
#include <vector>

#include "bench/policy_load_args.hpp"

namespace sg::policy_load {

struct Report {
  uint64_t requests = 0;
  double seconds = 0;
  std::vector<uint64_t> latency_ns;
  uint64_t actions[kActionKinds] = {};
  uint64_t errors = 0;
  uint64_t timeouts = 0, closed = 0, protocol = 0, connect_failed = 0;
  unsigned connections_open = 0;
  bool hit_max_seconds = false;
  double client_cpu_percent = 0;  // this generator's CPU time over the measured part
};

// Prints the report to stdout, in the form --json chose. Sorts the latencies.
void print_report(const Options& o, Report& r);

}  // namespace sg::policy_load
