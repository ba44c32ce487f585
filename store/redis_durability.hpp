// Whether the Redis that holds the counters keeps them: asked with INFO on
// every (re)connect by policyd and rampd, and said in their logs and on
// /status. A Redis without AOF comes back from a restart with an old
// snapshot or nothing (a stream gets a second daily cap the same day); one
// that may evict keys drops counters and caps under memory pressure. The
// settings the deployment needs are in docs/install.md, step 1.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sg {

class RedisClient;

// Pure: INFO's text (sections "persistence" and "memory", as Redis 5-7
// write them) -> what is wrong, one sentence each; empty when durable.
std::vector<std::string> durability_warnings(std::string_view info);

// Sends INFO and calls `done` with the warnings (one saying INFO failed, if
// it did). On the loop thread.
void check_durability(RedisClient& redis,
                      std::function<void(std::vector<std::string> warnings)> done);

}  // namespace sg
