#include "store/redis_durability.hpp"

#include <hiredis/hiredis.h>

#include <map>

#include "store/redis_client.hpp"

namespace sg {
namespace {

// "key:value" lines; section headers ("# Memory") and blanks skipped.
std::map<std::string, std::string, std::less<>> info_fields(std::string_view info) {
  std::map<std::string, std::string, std::less<>> out;
  while (!info.empty()) {
    auto nl = info.find('\n');
    std::string_view line = info.substr(0, nl);
    info.remove_prefix(nl == std::string_view::npos ? info.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto colon = line.find(':');
    if (line.empty() || line[0] == '#' || colon == std::string_view::npos) continue;
    out.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  return out;
}

constexpr const char* kGuide = " (docs/install.md, step 1)";

}  // namespace

std::vector<std::string> durability_warnings(std::string_view info) {
  const auto f = info_fields(info);
  std::vector<std::string> out;
  const auto aof = f.find("aof_enabled");
  if (aof == f.end()) {
    out.push_back(
        "Redis's INFO does not say whether appendonly is on: check that redis.conf "
        "has appendonly yes and appendfsync everysec" +
        std::string(kGuide));
  } else if (aof->second != "1") {
    out.push_back(
        "appendonly is off: after a restart or a crash Redis comes back with its last RDB "
        "snapshot, or empty, and a stream can get a second daily cap the same day. Set "
        "appendonly yes and appendfsync everysec in redis.conf" +
        std::string(kGuide));
  }
  const auto policy = f.find("maxmemory_policy");
  if (policy != f.end() && policy->second != "noeviction") {
    const auto max = f.find("maxmemory");
    const bool limited = max != f.end() && max->second != "0";
    out.push_back("maxmemory-policy is " + policy->second +
                  (limited ? " with maxmemory " + max->second + " bytes: under memory pressure"
                           : ": once a maxmemory is set,") +
                  " Redis evicts keys, streamguard's counters and caps among them. Set "
                  "maxmemory-policy noeviction in redis.conf" +
                  kGuide);
  }
  return out;
}

void check_durability(RedisClient& redis,
                      std::function<void(std::vector<std::string> warnings)> done) {
  redis.command({"INFO"}, [done = std::move(done)](const redisReply* r, std::string_view error) {
    if (!r || r->type != REDIS_REPLY_STRING) {
      const std::string why = !error.empty()                      ? std::string(error)
                              : r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len)
                                                                  : "not a text reply";
      done({"cannot tell whether Redis keeps the counters across a restart (INFO: " + why +
            "): check appendonly and maxmemory-policy by hand" + kGuide});
      return;
    }
    done(durability_warnings(std::string_view(r->str, r->len)));
  });
}

}  // namespace sg
