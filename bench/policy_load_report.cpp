#include "bench/policy_load_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "common/json.hpp"

namespace sg::policy_load {

namespace {

// The q-quantile by nearest rank, in microseconds.
double percentile_us(const std::vector<uint64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return static_cast<double>(sorted[std::min(rank, sorted.size()) - 1]) / 1000.0;
}

}  // namespace

void print_report(const Options& o, Report& r) {
  std::sort(r.latency_ns.begin(), r.latency_ns.end());
  const double rps = r.seconds > 0 ? static_cast<double>(r.requests) / r.seconds : 0;
  const double p50 = percentile_us(r.latency_ns, 0.50), p90 = percentile_us(r.latency_ns, 0.90),
               p99 = percentile_us(r.latency_ns, 0.99), p999 = percentile_us(r.latency_ns, 0.999),
               max = r.latency_ns.empty() ? 0 : static_cast<double>(r.latency_ns.back()) / 1000.0;
  double mean = 0;
  for (auto v : r.latency_ns) mean += static_cast<double>(v);
  if (!r.latency_ns.empty()) mean /= static_cast<double>(r.latency_ns.size()) * 1000.0;
  char buf[2048];
  if (o.json) {
    std::snprintf(
        buf, sizeof buf,
        "{\"target\":%s,\"connections\":%u,\"connections_open\":%u,\"requests\":%llu,"
        "\"seconds\":%.3f,\"requests_per_second\":%.1f,\"latency_us\":{\"mean\":%.1f,"
        "\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p99_9\":%.1f,\"max\":%.1f},"
        "\"actions\":{\"DUNNO\":%llu,\"REJECT\":%llu,\"DEFER_IF_PERMIT\":%llu,"
        "\"HOLD\":%llu,\"other\":%llu},\"errors\":%llu,\"error_kinds\":{\"timeout\":%llu,"
        "\"closed\":%llu,\"protocol\":%llu,\"connect\":%llu},\"client_cpu_percent\":%.1f,"
        "\"hit_max_seconds\":%s}\n",
        sg::json::quote(o.target_text).c_str(), o.connections, r.connections_open,
        static_cast<unsigned long long>(r.requests), r.seconds, rps, mean, p50, p90, p99, p999, max,
        static_cast<unsigned long long>(r.actions[kDunno]),
        static_cast<unsigned long long>(r.actions[kReject]),
        static_cast<unsigned long long>(r.actions[kDefer]),
        static_cast<unsigned long long>(r.actions[kHold]),
        static_cast<unsigned long long>(r.actions[kOtherAction]),
        static_cast<unsigned long long>(r.errors), static_cast<unsigned long long>(r.timeouts),
        static_cast<unsigned long long>(r.closed), static_cast<unsigned long long>(r.protocol),
        static_cast<unsigned long long>(r.connect_failed), r.client_cpu_percent,
        r.hit_max_seconds ? "true" : "false");
    std::cout << buf;
    return;
  }
  std::cout << "target        " << o.target_text << "\n";
  std::snprintf(buf, sizeof buf,
                "connections   %u (%u opened)\nrequests      %llu\nseconds       %.3f\n"
                "requests/s    %.1f\nlatency (us)  mean %.1f  p50 %.1f  p90 %.1f  p99 %.1f  "
                "p99.9 %.1f  max %.1f\n",
                o.connections, r.connections_open, static_cast<unsigned long long>(r.requests),
                r.seconds, rps, mean, p50, p90, p99, p999, max);
  std::cout << buf << "actions      ";
  for (int k = 0; k < kActionKinds; ++k) std::cout << " " << kActionNames[k] << " " << r.actions[k];
  std::cout << "\nerrors        " << r.errors << " (timeout " << r.timeouts << ", closed "
            << r.closed << ", protocol " << r.protocol << ", connect " << r.connect_failed << ")\n";
  std::snprintf(buf, sizeof buf, "client CPU    %.0f%% of one core\n", r.client_cpu_percent);
  std::cout << buf;
  if (r.hit_max_seconds) std::cout << "note          stopped by --max-seconds\n";
}

}  // namespace sg::policy_load
