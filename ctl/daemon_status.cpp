#include "ctl/daemon_status.hpp"

#include <chrono>
#include <iostream>

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

std::optional<ConfigAndJson> config_and_json(const std::string& command,
                                             const std::vector<std::string>& args, int& exit_code) {
  std::string path;
  ConfigAndJson out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size() && path.empty()) {
      path = args[++i];
    } else if (args[i] == "--json") {
      out.json = true;
    } else {
      std::cerr << "streamguardctl: unexpected '" << args[i] << "'\nusage: streamguardctl "
                << command << " --config FILE [--json]\n";
      return exit_code = 2, std::nullopt;
    }
  }
  if (path.empty()) {
    std::cerr << "streamguardctl: " << command << " needs --config FILE\n";
    return exit_code = 2, std::nullopt;
  }
  auto loaded = load_config(path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return exit_code = 1, std::nullopt;
  }
  out.config = std::move(loaded.config);
  return out;
}

}  // namespace sg
