// The daemons streamguardctl reaches through their status endpoints
// (status and enforce/shadow alike): which ones a configuration has, and
// their /status as JSON.
#pragma once

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

}  // namespace sg
