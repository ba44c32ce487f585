// The daemons' connections: [redis], [policyd] and [dns].
#include <string>

#include "common/dns_server.hpp"
#include "common/redis_url.hpp"

#include <toml++/toml.h>

#include "common/config_reader.hpp"

namespace sg::config_detail {

namespace {

const std::initializer_list<std::pair<std::string_view, Action>> kFailActions = {
    {"hold", Action::hold}, {"defer", Action::defer}, {"allow", Action::dunno}};

}  // namespace

void read_redis(Reader& r, const toml::table& t, RedisConfig& out) {
  r.only_keys(t, "[redis]", {"url", "on_error", "timeout_ms", "key_prefix", "expect_rampd"});
  if (auto n = t.get("url")) {
    if (auto s = r.str(*n, "url")) {
      std::string err;
      if (auto u = parse_redis_url(*s, err)) {
        out.target = *u;
        out.url = *s;
      } else {
        r.error(*n, err);
      }
    }
  }
  if (auto n = t.get("on_error"))
    if (auto a = r.choice<Action>(*n, "on_error", kFailActions)) out.on_error = *a;
  if (auto n = t.get("timeout_ms"))
    if (auto v = r.integer(*n, "timeout_ms", 1, 60000)) out.timeout_ms = static_cast<uint32_t>(*v);
  if (auto n = t.get("expect_rampd")) {
    if (auto b = n->value<bool>())
      out.expect_rampd = *b;
    else
      r.error(*n, "'expect_rampd' must be true or false");
  }
  if (auto n = t.get("key_prefix")) {
    if (auto s = r.str(*n, "key_prefix")) {
      if (valid_name(*s))
        out.key_prefix = *s;
      else
        r.error(*n, "'key_prefix' must be 1-32 of a-z 0-9 _ -");
    }
  }
}

void read_policyd(Reader& r, const toml::table& t, PolicydConfig& out) {
  r.only_keys(t, "[policyd]",
              {"listen", "status", "unknown_port", "max_connections", "idle_timeout_s", "commit",
               "reserve_ttl_s"});
  if (auto n = t.get("commit"))
    if (auto c = r.choice(*n, "commit", kCommitNames)) out.commit = *c;
  if (auto n = t.get("reserve_ttl_s"))
    if (auto v = r.integer(*n, "reserve_ttl_s", 10, 86400))
      out.reserve_ttl_s = static_cast<uint32_t>(*v);
  if (auto n = t.get("listen")) out.listen = endpoints(r, *n, "listen");
  if (auto n = t.get("status")) out.status = endpoints(r, *n, "status");
  if (auto n = t.get("unknown_port"))
    if (auto a = r.choice<Action>(*n, "unknown_port",
                                  {{"defer", Action::defer},
                                   {"hold", Action::hold},
                                   {"reject", Action::reject},
                                   {"allow", Action::dunno}}))
      out.unknown_port = *a;
  if (auto n = t.get("max_connections"))
    if (auto v = r.integer(*n, "max_connections", 1, 65535))
      out.max_connections = static_cast<uint32_t>(*v);
  if (auto n = t.get("idle_timeout_s"))
    if (auto v = r.integer(*n, "idle_timeout_s", 1, 86400))
      out.idle_timeout_s = static_cast<uint32_t>(*v);
}

void read_dns(Reader& r, const toml::table& t, DnsConfig& out) {
  r.only_keys(t, "[dns]",
              {"enabled", "servers", "timeout_ms", "tries", "on_failure", "min_ttl_s", "max_ttl_s",
               "negative_ttl_s", "failure_ttl_s", "cache_entries"});
  if (auto n = t.get("enabled")) {
    if (auto b = n->as_boolean())
      out.enabled = b->get();
    else
      r.error(*n, "'enabled' must be true or false");
  }
  if (auto n = t.get("servers")) {
    out.servers = r.strings(*n, "servers");
    for (const auto& s : out.servers) {
      std::string err;
      if (!parse_dns_server(s, err)) r.error(*n, "'servers': " + err);
    }
  }
  auto u32 = [&](const char* key, int64_t lo, int64_t hi, uint32_t& field) {
    if (auto n = t.get(key))
      if (auto v = r.integer(*n, key, lo, hi)) field = static_cast<uint32_t>(*v);
  };
  u32("timeout_ms", 50, 30000, out.timeout_ms);
  u32("tries", 1, 5, out.tries);
  u32("min_ttl_s", 0, 86400, out.min_ttl_s);
  u32("max_ttl_s", 1, 7 * 86400, out.max_ttl_s);
  u32("negative_ttl_s", 0, 86400, out.negative_ttl_s);
  u32("failure_ttl_s", 0, 3600, out.failure_ttl_s);
  u32("cache_entries", 1, 10'000'000, out.cache_entries);
  if (auto n = t.get("on_failure"))
    if (auto a = r.choice<Action>(
            *n, "on_failure",
            {{"defer", Action::defer}, {"hold", Action::hold}, {"unknown", Action::dunno}}))
      out.on_failure = *a;
  if (out.min_ttl_s > out.max_ttl_s)
    r.error_at(t.source().begin, "[dns] min_ttl_s is above max_ttl_s");
}

}  // namespace sg::config_detail
