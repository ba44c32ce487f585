// Internal to the config parser (common/config*.cpp): the error-collecting
// TOML reader and the small checks the sections share. Not for programs.
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.hpp"
#include "common/endpoint.hpp"

namespace sg::config_detail {

// Collects errors against one file and offers typed readers that report a
// wrong type or value at the node's own position.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void error(const toml::node& n, std::string msg) {
    const auto& b = n.source().begin;
    errors_.push_back({file_, b.line, b.column, std::move(msg)});
  }
  void error_at(const toml::source_position& p, std::string msg) {
    errors_.push_back({file_, p.line, p.column, std::move(msg)});
  }

  // Reports every key of `t` not in `allowed`.
  void only_keys(const toml::table& t, std::string_view where,
                 std::initializer_list<std::string_view> allowed) {
    only_keys(t, where, std::vector<std::string_view>(allowed));
  }
  void only_keys(const toml::table& t, std::string_view where,
                 const std::vector<std::string_view>& allowed) {
    for (const auto& [k, v] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end()) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        error(v, "unknown key '" + std::string(k.str()) + "' in " + std::string(where) +
                     " (known: " + list + ")");
      }
    }
  }

  std::optional<std::string> str(const toml::node& n, std::string_view key) {
    if (auto s = n.value<std::string>()) return s;
    error(n, "'" + std::string(key) + "' must be a string");
    return std::nullopt;
  }

  std::optional<int64_t> integer(const toml::node& n, std::string_view key, int64_t lo,
                                 int64_t hi) {
    auto i = n.as_integer();
    if (!i) {
      error(n, "'" + std::string(key) + "' must be an integer");
      return std::nullopt;
    }
    int64_t v = i->get();
    if (v < lo || v > hi) {
      error(n, "'" + std::string(key) + "' is " + std::to_string(v) + ", must be from " +
                   std::to_string(lo) + " to " + std::to_string(hi));
      return std::nullopt;
    }
    return v;
  }

  template <class E>
  std::optional<E> choice(const toml::node& n, std::string_view key,
                          std::initializer_list<std::pair<std::string_view, E>> options) {
    return choice_of(n, key, std::vector<std::pair<std::string_view, E>>(options));
  }

  template <class E>
  std::optional<E> choice_of(const toml::node& n, std::string_view key,
                             const std::vector<std::pair<std::string_view, E>>& options) {
    auto s = str(n, key);
    if (!s) return std::nullopt;
    std::string names;
    for (const auto& [name, value] : options) {
      if (*s == name) return value;
      names += (names.empty() ? "" : ", ") + std::string("\"") + std::string(name) + "\"";
    }
    error(n, "'" + std::string(key) + "' is \"" + *s + "\", must be one of " + names);
    return std::nullopt;
  }

  // A value spelled as in one of the EnumName tables of common/config.hpp.
  template <class E, std::size_t N>
  std::optional<E> choice(const toml::node& n, std::string_view key,
                          const EnumName<E> (&table)[N]) {
    std::vector<std::pair<std::string_view, E>> options;
    for (const auto& e : table) options.emplace_back(e.name, e.value);
    return choice_of(n, key, options);
  }

  // The string `key` of `t`, into `field` when `ok` accepts it; otherwise
  // "'KEY' is \"VALUE\", must be MUST" at its node.
  template <class Ok>
  void checked_str(const toml::table& t, std::string_view key, Ok ok, std::string& field,
                   std::string_view must) {
    const toml::node* n = t.get(key);
    if (!n) return;
    auto s = str(*n, key);
    if (!s) return;
    if (ok(*s))
      field = *s;
    else
      error(*n, "'" + std::string(key) + "' is \"" + *s + "\", must be " + std::string(must));
  }

  std::vector<std::string> strings(const toml::node& n, std::string_view key) {
    std::vector<std::string> out;
    auto arr = n.as_array();
    if (!arr) {
      error(n, "'" + std::string(key) + "' must be an array of strings");
      return out;
    }
    for (const auto& e : *arr)
      if (auto s = str(e, key)) out.push_back(*s);
    return out;
  }

  const toml::table* table(const toml::node& n, std::string_view key) {
    if (auto t = n.as_table()) return t;
    error(n, "'" + std::string(key) + "' must be a table");
    return nullptr;
  }

  std::vector<ConfigError>& errors() { return errors_; }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// 1-32 of a-z 0-9 _ - (stream, operator and breaker names).
bool valid_name(std::string_view s);

// One endpoint string or an array of them ("unix:/path", "inet:host:port", ...).
std::vector<Endpoint> endpoints(Reader& r, const toml::node& n, std::string_view key);

// A path from the config: relative paths are taken from the config's folder.
std::string config_relative(const std::string& value, const std::string& config_path);

// The sections, one file each (common/config_*.cpp). A reader reports its
// own errors and fills what it could read.
// [redis], [policyd], [dns] (config_services.cpp).
void read_redis(Reader& r, const toml::table& t, RedisConfig& out);
void read_policyd(Reader& r, const toml::table& t, PolicydConfig& out);
void read_dns(Reader& r, const toml::table& t, DnsConfig& out);
// [lists], [operators] (config_lists.cpp); operators may name a list.
void read_lists(Reader& r, const toml::table& t, const std::string& config_path,
                std::map<std::string, std::string>& out);
void read_operators(Reader& r, const toml::table& t,
                    const std::map<std::string, std::string>& lists,
                    std::vector<OperatorConfig>& out);
// [postfix] and a stream's postfix = {...} (config_postfix.cpp).
void read_postfix(Reader& r, const toml::table& t, PostfixConfig& out);
StreamPostfixConfig read_stream_postfix(Reader& r, const toml::node& n);
void check_postfix(Reader& r, const toml::array& streams, const Config& cfg);
// [milter] and a stream's milter = {...} (config_milter.cpp).
void read_milter(Reader& r, const toml::table& t, MilterConfig& out);
StreamMilterConfig read_stream_milter(Reader& r, const toml::node& n);
// [[stream]] and the checks across streams (config_stream.cpp).
StreamConfig read_stream(Reader& r, const toml::table& t, const Config& cfg,
                         const std::set<std::string>& operators);
void check_streams(Reader& r, const toml::array& streams, const Config& cfg);
// [[breaker]] and [[suppress]] (config_breaker.cpp).
BreakerRule read_breaker(Reader& r, const toml::table& t, const std::set<std::string>& operators);
SuppressRule read_suppress(Reader& r, const toml::table& t, const std::set<std::string>& operators);

// [rampd] and a stream's `listmonk = { ... }` (common/config_rampd.cpp).
void read_rampd(Reader& r, const toml::table& t, const std::string& config_path, RampdConfig& out);
std::optional<ListmonkConfig> read_listmonk(Reader& r, const toml::node& n,
                                            const std::string& config_path);

}  // namespace sg::config_detail
