// TOML -> validated Config. Every semantic problem is collected with its
// file:line:col; a TOML syntax error stops the parse (toml++ reports the first).
// parse_config() walks kSections, one reader per top-level key; each section
// is read in a file of its own (common/config_*.cpp, declared in
// config_reader.hpp).
#include "common/config.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <toml++/toml.h>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/config_reader.hpp"
#include "common/redis_url.hpp"

namespace sg {

std::string ConfigError::to_string() const {
  std::ostringstream os;
  os << file;
  if (line > 0) os << ':' << line << ':' << column;
  os << ": " << message;
  return os.str();
}

std::optional<uint64_t> StreamConfig::fallback_hourly_cap() const {
  if (hourly_cap) return hourly_cap;
  if (ramp && !ramp->hourly.empty()) return ramp->hourly.front().cap;
  return std::nullopt;
}

uint64_t StreamConfig::effective_burst(uint64_t cap) const {
  if (burst > 0) return burst;
  return std::max<uint64_t>(1, cap / 60);
}

const StreamConfig* Config::stream_for_port(uint16_t port) const {
  for (const auto& s : streams)
    if (std::find(s.ports.begin(), s.ports.end(), port) != s.ports.end()) return &s;
  return nullptr;
}

std::map<std::string, std::vector<std::string>> Config::operator_domains() const {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& op : operators) out[op.name] = op.domains;
  return out;
}

const StreamConfig* Config::stream_named(std::string_view name) const {
  for (const auto& s : streams)
    if (s.name == name) return &s;
  return nullptr;
}

namespace config_detail {

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::vector<Endpoint> endpoints(Reader& r, const toml::node& n, std::string_view key) {
  std::vector<std::string> texts;
  if (n.is_string())
    texts.push_back(*n.value<std::string>());
  else
    texts = r.strings(n, key);
  std::vector<Endpoint> out;
  for (const auto& text : texts) {
    std::string err;
    if (auto ep = parse_endpoint(text, err))
      out.push_back(*ep);
    else
      r.error(n, "'" + std::string(key) + "': " + err);
  }
  return out;
}

}  // namespace config_detail

namespace {

using namespace config_detail;

bool valid_timezone(const std::string& tz) {
  if (tz == "UTC") return true;
  if (tz.empty() || tz.front() == '/' || tz.find("..") != std::string::npos) return false;
  struct stat st {};
  return ::stat(("/usr/share/zoneinfo/" + tz).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::set<std::string> operator_names(const Config& cfg) {
  std::set<std::string> names;
  for (const auto& op : cfg.operators) names.insert(op.name);
  return names;
}

// An array of tables ([[stream]], [[breaker]]), or an error naming the
// syntax to use.
const toml::array* tables(Reader& r, const toml::node& n, std::string_view key) {
  auto arr = n.as_array();
  if (arr && arr->is_array_of_tables()) return arr;
  r.error(n, "'" + std::string(key) + "' must be an array of tables: write [[" + std::string(key) +
                 "]]");
  return nullptr;
}

// Reads one top-level key into the config.
using SectionReader = void (*)(Reader&, const toml::node&, Config&);

// A section read as a TOML table into one part of the config.
template <auto Member, auto Read>
void table_section(Reader& r, const toml::node& n, Config& cfg, std::string_view key) {
  if (auto t = r.table(n, key)) Read(r, *t, cfg.*Member);
}

void read_timezone(Reader& r, const toml::node& n, Config& cfg) {
  if (auto v = r.str(n, "timezone")) {
    if (valid_timezone(*v))
      cfg.timezone = *v;
    else
      r.error(n, "unknown time zone '" + *v + "' (an IANA name such as America/Chicago)");
  }
}

void read_log_level(Reader& r, const toml::node& n, Config& cfg) {
  if (auto v = r.choice<std::string>(n, "log_level",
                                     {{"trace", std::string("trace")},
                                      {"debug", std::string("debug")},
                                      {"info", std::string("info")},
                                      {"warn", std::string("warn")},
                                      {"error", std::string("error")}}))
    cfg.log_level = *v;
}

void read_streams(Reader& r, const toml::node& n, Config& cfg) {
  const toml::array* arr = tables(r, n, "stream");
  if (!arr) return;
  const auto operators = operator_names(cfg);
  for (const auto& e : *arr) cfg.streams.push_back(read_stream(r, *e.as_table(), cfg, operators));
  check_streams(r, *arr, cfg);
  check_postfix(r, *arr, cfg);
}

// [[breaker]] or [[suppress]]: each table read by `read_one`, names unique.
template <class Rule, class ReadOne>
void read_rules(Reader& r, const toml::node& n, Config& cfg, const char* key, const char* what,
                std::vector<Rule>& out, ReadOne read_one) {
  const toml::array* arr = tables(r, n, key);
  if (!arr) return;
  const auto operators = operator_names(cfg);
  std::set<std::string> names;
  for (const auto& e : *arr) {
    const auto& t = *e.as_table();
    out.push_back(read_one(r, t, operators));
    const auto& name = out.back().name;
    if (!name.empty() && !names.insert(name).second)
      r.error(*t.get("name"), std::string(what) + " name '" + name + "' is used twice");
  }
}

void read_breakers(Reader& r, const toml::node& n, Config& cfg) {
  read_rules(r, n, cfg, "breaker", "breaker", cfg.breakers, read_breaker);
}

void read_suppress_rules(Reader& r, const toml::node& n, Config& cfg) {
  read_rules(r, n, cfg, "suppress", "suppress rule", cfg.suppress, read_suppress);
}

struct Section {
  std::string_view key;
  SectionReader read;
};

// Every top-level key, in the order they are read: a later section may use
// an earlier one's result (operators name lists; streams and breakers name
// operators).
const Section kSections[] = {
    {"timezone", read_timezone},
    {"log_level", read_log_level},
    {"mode",
     [](Reader& r, const toml::node& n, Config& c) {
       if (auto v = r.choice(n, "mode", kStreamModeNames)) c.default_mode = *v;
     }},
    {"redis", [](Reader& r, const toml::node& n,
                 Config& c) { table_section<&Config::redis, read_redis>(r, n, c, "redis"); }},
    {"policyd",
     [](Reader& r, const toml::node& n, Config& c) {
       table_section<&Config::policyd, read_policyd>(r, n, c, "policyd");
     }},
    {"dns", [](Reader& r, const toml::node& n,
               Config& c) { table_section<&Config::dns, read_dns>(r, n, c, "dns"); }},
    {"lists",
     [](Reader& r, const toml::node& n, Config& c) {
       if (auto t = r.table(n, "lists")) read_lists(r, *t, c.path, c.lists);
     }},
    {"operators",
     [](Reader& r, const toml::node& n, Config& c) {
       if (auto t = r.table(n, "operators")) read_operators(r, *t, c.lists, c.operators);
     }},
    {"postfix",
     [](Reader& r, const toml::node& n, Config& c) {
       table_section<&Config::postfix, read_postfix>(r, n, c, "postfix");
     }},
    {"milter",
     [](Reader& r, const toml::node& n, Config& c) {
       if (auto t = r.table(n, "milter")) {
         c.milter.configured = true;
         read_milter(r, *t, c.milter);
         if (!c.milter.opendkim_conf.empty())
           c.milter.opendkim_conf = config_relative(c.milter.opendkim_conf, c.path);
       }
     }},
    {"rampd",
     [](Reader& r, const toml::node& n, Config& c) {
       if (auto t = r.table(n, "rampd")) read_rampd(r, *t, c.path, c.rampd);
     }},
    {"stream", read_streams},
    {"breaker", read_breakers},
    {"suppress", read_suppress_rules},
};

// What a config has before its file is read.
std::shared_ptr<Config> defaults(const std::string& path) {
  auto cfg = std::make_shared<Config>();
  cfg->path = path;
  cfg->timezone = "UTC";
  std::string err;
  cfg->redis.url = "redis://127.0.0.1:6379/0";
  cfg->redis.target = *parse_redis_url(cfg->redis.url, err);
  cfg->milter.listen = *parse_endpoint("unix:/var/spool/postfix/private/streamguard-milter", err);
  return cfg;
}

}  // namespace

std::string config_detail::config_relative(const std::string& value,
                                           const std::string& config_path) {
  std::filesystem::path p(value);
  if (p.is_relative()) p = std::filesystem::path(config_path).parent_path() / p;
  return p.lexically_normal().string();
}

ConfigResult parse_config(std::string_view text, const std::string& path) {
  ConfigResult result;
  Reader r(path);
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    result.errors.push_back({path, b.line, b.column, std::string(e.description())});
    return result;
  }
  auto cfg = defaults(path);
  std::vector<std::string_view> keys;
  for (const auto& s : kSections) keys.push_back(s.key);
  r.only_keys(root, "the top level", keys);
  for (const auto& s : kSections)
    if (auto n = root.get(s.key)) s.read(r, *n, *cfg);
  if (cfg->policyd.listen.empty()) {
    std::string err;
    cfg->policyd.listen.push_back(
        *parse_endpoint("unix:/var/spool/postfix/private/streamguard", err));
  }
  for (auto& s : cfg->streams) {
    s.held_released = cfg->rampd.drain;
    // A relative stamp is the config's folder's, as lists and token files
    // are: never the working directory of whoever runs a daemon.
    if (s.ramp && !s.ramp->stamp.empty()) s.ramp->stamp = config_relative(s.ramp->stamp, path);
  }
  if (!root.get("stream"))
    r.error_at(root.source().begin, "no [[stream]] is defined: nothing to enforce");

  result.errors = std::move(r.errors());
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

ConfigResult load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ConfigResult result;
    result.errors.push_back({path, 0, 0, std::string("cannot read: ") + std::strerror(errno)});
    return result;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace sg
