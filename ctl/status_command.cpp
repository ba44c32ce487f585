#include "ctl/status_command.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>

#include "common/config.hpp"
#include "ctl/daemon_status.hpp"

namespace sg {
namespace {

using nlohmann::json;

// One daemon as asked.
struct Row {
  std::string daemon;
  std::optional<Endpoint> endpoint;  // none: the config gives it no status endpoint
  bool up = false;
  std::string error;  // why it is not up
  json status;        // its /status when up
};

std::vector<Row> ask_all(const Config& cfg) {
  std::vector<Row> rows;
  for (const auto& d : daemon_endpoints(cfg)) {
    Row r;
    r.daemon = d.name;
    r.endpoint = d.status;
    if (r.endpoint) {
      auto j = fetch_status(*r.endpoint, r.error);
      r.up = j.has_value();
      if (j) r.status = std::move(*j);
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string text(const json& j, const char* key, const std::string& none = "-") {
  if (!j.contains(key) || j[key].is_null()) return none;
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

// A boolean field, or `otherwise` when it is missing or not a boolean (a
// daemon of another version must not make status fail).
bool flag(const json& j, const char* key, bool otherwise) {
  return j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : otherwise;
}

std::string reloads(const json& s) {
  if (!s.contains("reloads")) return "-";
  const auto& r = s["reloads"];
  auto count = [&](const char* key) {
    return r.contains(key) && r[key].is_number() ? std::to_string(r[key].get<uint64_t>()) : "?";
  };
  return count("ok") + " ok, " + count("failed") + " failed";
}

std::string redis(const Row& r) {
  if (!r.up || !r.status.contains("redis_ready")) return "-";
  const bool ready = flag(r.status, "redis_ready", false);
  const auto warnings =
      r.status.contains("redis_warnings") ? r.status["redis_warnings"].size() : std::size_t{0};
  if (!ready) return "DOWN";
  return warnings ? "ready, " + std::to_string(warnings) + " warning" + (warnings > 1 ? "s" : "")
                  : "ready";
}

// What an operator should act on, one line each.
std::vector<std::string> problems(const Row& r, const Config& cfg) {
  std::vector<std::string> out;
  auto say = [&](const std::string& s) { out.push_back(r.daemon + ": " + s); };
  if (!r.endpoint) return out;
  if (!r.up) {
    say("does not answer: " + r.error);
    return out;
  }
  const auto& s = r.status;
  if (s.contains("reloads") && !flag(s["reloads"], "last_ok", true))
    say("the last reload, at " + text(s["reloads"], "last") +
        ", failed: the configuration before it is still in force (the daemon's log says why)");
  std::error_code ec;
  const std::string loaded = text(s, "config", "");
  if (!loaded.empty() && !std::filesystem::equivalent(loaded, cfg.path, ec))
    say("runs with " + loaded + ", not " + cfg.path);
  if (!flag(s, "redis_ready", true))
    say("Redis is not connected: its decisions take [redis] on_error");
  if (s.contains("redis_warnings") && s["redis_warnings"].is_array())
    for (const auto& w : s["redis_warnings"])
      if (w.is_string()) say("redis: " + w.get<std::string>());
  if (!flag(s, "opendkim_ok", true))
    say("OpenDKIM's configuration (" + text(s, "opendkim_conf") +
        ") could not be read: DKIM checks find \"cannot tell\"");
  return out;
}

void print_table(const std::vector<Row>& rows) {
  std::vector<std::vector<std::string>> cells = {
      {"DAEMON", "UP", "PID", "STARTED", "RELOADS", "REDIS", "STATUS ENDPOINT"}};
  for (const auto& r : rows)
    cells.push_back({r.daemon,
                     !r.endpoint ? "?"
                     : r.up      ? "yes"
                                 : "NO",
                     r.up ? text(r.status, "pid") : "-", r.up ? text(r.status, "started") : "-",
                     r.up ? reloads(r.status) : "-", redis(r),
                     r.endpoint ? r.endpoint->to_string() : "(none in the configuration)"});
  std::vector<std::size_t> width(cells[0].size(), 0);
  for (const auto& line : cells)
    for (std::size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], line[i].size());
  for (const auto& line : cells) {
    std::string out;
    for (std::size_t i = 0; i < line.size(); ++i)
      out +=
          i + 1 < line.size() ? line[i] + std::string(width[i] - line[i].size() + 2, ' ') : line[i];
    std::cout << out << "\n";
  }
}

}  // namespace

int run_status(const std::vector<std::string>& args) {
  int exit_code = 0;
  auto a = config_and_json("status", args, exit_code);
  if (!a) return exit_code;
  const Config& cfg = *a->config;
  const auto rows = ask_all(cfg);
  const bool all_up =
      std::all_of(rows.begin(), rows.end(), [](const Row& r) { return !r.endpoint || r.up; });
  if (a->json) {
    json out = json::array();
    for (const auto& r : rows)
      out.push_back({{"daemon", r.daemon},
                     {"endpoint", r.endpoint ? json(r.endpoint->to_string()) : json()},
                     {"up", r.up},
                     {"error", r.error.empty() ? json() : json(r.error)},
                     {"status", r.up ? r.status : json()},
                     {"problems", problems(r, cfg)}});
    std::cout << out.dump(2) << "\n";
    return all_up ? 0 : 1;
  }
  print_table(rows);
  std::vector<std::string> all;
  for (const auto& r : rows)
    for (auto& p : problems(r, cfg)) all.push_back(std::move(p));
  if (!all.empty()) std::cout << "\n";
  for (const auto& p : all) std::cout << p << "\n";
  return all_up ? 0 : 1;
}

}  // namespace sg
