#include "rules/limiter_keys.hpp"

namespace sg::keys {

namespace {

std::string stream_base(std::string_view prefix, std::string_view stream) {
  std::string k;
  k.reserve(prefix.size() + stream.size() + 40);
  k.append(prefix).append(":{").append(stream).append("}:");
  return k;
}

}  // namespace

std::string caps(std::string_view prefix, std::string_view stream) {
  return stream_base(prefix, stream).append("caps");
}

std::string hourly_rate(std::string_view prefix, std::string_view stream, std::string_view op) {
  auto k = stream_base(prefix, stream).append("rate:hour");
  if (!op.empty()) k.append(":op:").append(op);
  return k;
}

std::string daily_count(std::string_view prefix, std::string_view stream, std::string_view day,
                        std::string_view op) {
  auto k = stream_base(prefix, stream).append("count:day:").append(day);
  if (!op.empty()) k.append(":op:").append(op);
  return k;
}

std::string reservations(std::string_view prefix, std::string_view stream) {
  return stream_base(prefix, stream).append("resv");
}

std::string reservation(std::string_view prefix, std::string_view stream,
                        std::string_view instance) {
  return stream_base(prefix, stream).append("resv:").append(instance);
}

std::string accepted(std::string_view prefix, std::string_view stream, std::string_view queue_id) {
  return stream_base(prefix, stream).append("accepted:").append(queue_id);
}

std::string releasing(std::string_view prefix, std::string_view stream) {
  return stream_base(prefix, stream).append("releasing");
}

std::string ramp_state(std::string_view prefix, std::string_view stream) {
  return stream_base(prefix, stream).append("ramp");
}

std::string sent_days(std::string_view prefix, std::string_view stream) {
  return stream_base(prefix, stream).append("sent_days");
}

std::string suppress_all(std::string_view prefix) {
  return std::string(prefix).append(":suppress");
}

std::string suppress_expiry(std::string_view prefix) {
  return std::string(prefix).append(":suppress:expiry");
}

std::string suppress_domains(std::string_view prefix) {
  return std::string(prefix).append(":suppress:domains");
}

std::string rampd_lease(std::string_view prefix) {
  return std::string(prefix).append(":rampd:lease");
}

std::string suppressed(std::string_view prefix, std::string_view stream) {
  return stream_base(prefix, stream).append("suppress");
}

std::string cap_field(std::string_view window, std::string_view op) {
  std::string f;
  if (!op.empty()) f.append("op:").append(op).append(":");
  return f.append(window);
}

}  // namespace sg::keys
