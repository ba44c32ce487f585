// Every metric streamguard-policyd exports, declared once.
#pragma once

#include "common/metrics.hpp"

namespace sg {

struct PolicydMetrics {
  explicit PolicydMetrics(metrics::Registry& r)
      : requests(r.counter("streamguard_policy_requests_total",
                           "Policy requests answered, by stream, action and reason.",
                           {"stream", "action", "reason"})),
        shadow(r.counter("streamguard_policy_shadow_total",
                         "Shadow-mode requests that enforcement would have refused.",
                         {"stream", "would", "reason"})),
        latency(r.histogram("streamguard_policy_latency_seconds",
                            "Time from a complete request to its answer.", {},
                            {0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1})
                    .labels({})),
        protocol_errors(r.counter("streamguard_policy_protocol_errors_total",
                                  "Connections closed for a policy protocol violation.")
                            .labels({})),
        connections(
            r.gauge("streamguard_policy_connections", "Open policy connections.").labels({})),
        redis_errors(r.counter("streamguard_redis_errors_total",
                               "Redis calls that failed, by kind.", {"kind"})),
        redis_reconnects(r.counter("streamguard_redis_reconnects_total",
                                   "Times the Redis connection was lost and re-established.")
                             .labels({})),
        redis_up(
            r.gauge("streamguard_redis_up", "1 while the Redis connection is ready.").labels({})),
        redis_durable(r.gauge("streamguard_redis_durable",
                              "1 when Redis has appendonly on and maxmemory-policy noeviction "
                              "(asked with INFO on each connect); 0 otherwise.")
                          .labels({})),
        cap(r.gauge("streamguard_cap", "Cap in force, as last seen by a charge (-1: none).",
                    {"stream", "operator", "window"})),
        usage(r.gauge("streamguard_usage",
                      "Usage as last seen by a charge: daily count, or hourly messages in burst.",
                      {"stream", "operator", "window"})),
        reloads(
            r.counter("streamguard_config_reloads_total", "Config reloads by result.", {"result"})),
        reservations(r.counter("streamguard_reservations_total",
                               "Transactions whose RCPT charges were reserved and then committed "
                               "at END-OF-MESSAGE or returned to the budget, by stream.",
                               {"stream", "result"})),
        suppressed(r.counter("streamguard_suppressed_total",
                             "Recipients whose address or domain is suppressed (refused; in "
                             "shadow mode counted only), by stream, kind (address, domain) and "
                             "the rule that learned it (\"manual\": added by hand).",
                             {"stream", "kind", "rule"})) {}

  metrics::Family<metrics::Counter>& requests;
  metrics::Family<metrics::Counter>& shadow;
  metrics::Histogram& latency;
  metrics::Counter& protocol_errors;
  metrics::Gauge& connections;
  metrics::Family<metrics::Counter>& redis_errors;
  metrics::Counter& redis_reconnects;
  metrics::Gauge& redis_up;
  metrics::Gauge& redis_durable;
  metrics::Family<metrics::Gauge>& cap;
  metrics::Family<metrics::Gauge>& usage;
  metrics::Family<metrics::Counter>& reloads;
  metrics::Family<metrics::Counter>& reservations;
  metrics::Family<metrics::Counter>& suppressed;
};

}  // namespace sg
