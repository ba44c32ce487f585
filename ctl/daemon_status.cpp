#include "ctl/daemon_status.hpp"

#include <chrono>

#include "server/status_client.hpp"

namespace sg {

std::vector<DaemonEndpoint> daemon_endpoints(const Config& cfg) {
  std::vector<DaemonEndpoint> out;
  auto add = [&](const char* name, const char* section, const std::vector<Endpoint>& status) {
    out.push_back(
        {name, section, status.empty() ? std::nullopt : std::optional<Endpoint>(status.front())});
  };
  add("streamguard-policyd", "[policyd]", cfg.policyd.status);
  if (cfg.milter.configured) add("streamguard-milter", "[milter]", cfg.milter.status);
  add("streamguard-rampd", "[rampd]", cfg.rampd.status);
  return out;
}

std::optional<nlohmann::json> fetch_status(const Endpoint& endpoint, std::string& error) {
  auto body = status_get(endpoint, "/status", std::chrono::seconds(3), error);
  if (!body) return std::nullopt;
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = endpoint.to_string() + " answered /status with something else than streamguard's";
    return std::nullopt;
  }
  return j;
}

}  // namespace sg
