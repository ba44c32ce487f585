// The daemons streamguardctl reaches through their status endpoints
// (status and enforce/shadow alike): which ones a configuration has, and
// their /status as JSON.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"

namespace sg {

struct DaemonEndpoint {
  std::string name;                // "streamguard-policyd"
  std::string section;             // "[policyd]": where its status endpoint is set
  std::optional<Endpoint> status;  // its first status endpoint; none when not set
};

// policyd, the milter (with a [milter] table), rampd: in that order.
std::vector<DaemonEndpoint> daemon_endpoints(const Config& cfg);

// GET /status (3 s at most) as a JSON object; nullopt with `error` naming
// the endpoint when it does not answer or answers something else.
std::optional<nlohmann::json> fetch_status(const Endpoint& endpoint, std::string& error);

// The arguments of `streamguardctl COMMAND --config FILE [--json]` (status,
// report): the configuration loaded, and --json. Null after printing the
// usage (exit_code 2) or the configuration's errors (exit_code 1).
struct ConfigAndJson {
  std::shared_ptr<const Config> config;
  bool json = false;
};
std::optional<ConfigAndJson> config_and_json(const std::string& command,
                                             const std::vector<std::string>& args, int& exit_code);

}  // namespace sg
