// [[stream]]: ports, exclusions, caps, the warmup ramp, and the checks across
// streams.
#include <map>
#include <set>

#include <toml++/toml.h>

#include "common/config_reader.hpp"

namespace sg::config_detail {

namespace {

std::map<std::string, uint64_t> operator_caps(Reader& r, const toml::node& n, std::string_view key,
                                              const std::set<std::string>& operators) {
  std::map<std::string, uint64_t> out;
  auto t = r.table(n, key);
  if (!t) return out;
  for (const auto& [k, v] : *t) {
    std::string name(k.str());
    if (name != "default" && !operators.count(name)) {
      r.error(v, "'" + std::string(key) + "' names operator '" + name + "', which no [operators." +
                     name + "] table defines");
      continue;
    }
    if (auto cap = r.integer(v, name, 0, 100'000'000)) out[name] = static_cast<uint64_t>(*cap);
  }
  return out;
}

std::vector<RampStep> ramp_steps(Reader& r, const toml::node& n, std::string_view key) {
  std::vector<RampStep> out;
  auto arr = n.as_array();
  if (!arr || arr->empty()) {
    r.error(n, "'" + std::string(key) + "' must be a non-empty array of [day, cap] pairs");
    return out;
  }
  for (const auto& e : *arr) {
    auto pair = e.as_array();
    if (!pair || pair->size() != 2) {
      r.error(e, "each '" + std::string(key) + "' step must be [day, cap]");
      continue;
    }
    auto day = r.integer(*pair->get(0), "day", 0, 3650);
    auto cap = r.integer(*pair->get(1), "cap", 0, 100'000'000);
    if (!day || !cap) continue;
    if (out.empty() && *day != 0)
      r.error(e, "the first '" + std::string(key) + "' step must be day 0");
    if (!out.empty() && static_cast<uint32_t>(*day) <= out.back().day)
      r.error(e, "'" + std::string(key) + "' days must be in ascending order");
    out.push_back({static_cast<uint32_t>(*day), static_cast<uint64_t>(*cap)});
  }
  return out;
}

std::optional<RampConfig> read_ramp(Reader& r, const toml::node& n,
                                    const std::set<std::string>& operators) {
  auto t = r.table(n, "ramp");
  if (!t) return std::nullopt;
  r.only_keys(
      *t, "ramp",
      {"stamp", "count", "hourly", "daily", "send_day_minimum", "send_days_before", "operators"});
  RampConfig ramp;
  if (auto s = t->get("stamp")) {
    if (auto v = r.str(*s, "stamp")) ramp.stamp = *v;
  } else {
    r.error(n, "ramp needs 'stamp', the file holding the warmup start (epoch seconds)");
  }
  if (auto c = t->get("count"))
    if (auto v = r.choice(*c, "count", kRampCountNames)) ramp.count = *v;
  if (auto h = t->get("hourly"))
    ramp.hourly = ramp_steps(r, *h, "hourly");
  else
    r.error(n, "ramp needs 'hourly', the [day, cap] steps");
  if (auto d = t->get("daily")) ramp.daily = ramp_steps(r, *d, "daily");
  if (auto m = t->get("send_day_minimum"))
    if (auto v = r.integer(*m, "send_day_minimum", 1, 1'000'000))
      ramp.send_day_minimum = static_cast<uint64_t>(*v);
  if (auto b = t->get("send_days_before")) {
    if (auto v = r.integer(*b, "send_days_before", 0, 10'000))
      ramp.send_days_before = static_cast<uint32_t>(*v);
    if (ramp.count != RampCount::send_days)
      r.error(*b,
              "'send_days_before' counts send days: it goes with count = \"send_days\" (a "
              "calendar_days ramp carries a warmup over by its stamp)");
  }
  // operators = { google = [[0, 0], [30, 20]] }: day -> daily cap per operator.
  if (auto o = t->get("operators")) {
    if (auto ot = r.table(*o, "operators")) {
      for (const auto& [k, v] : *ot) {
        std::string name(k.str());
        if (!operators.count(name)) {
          r.error(v, "ramp 'operators' names operator '" + name + "', which no [operators." + name +
                         "] table defines");
          continue;
        }
        ramp.operators[name] = ramp_steps(r, v, "operators." + name);
      }
    }
  }
  return ramp;
}

}  // namespace

StreamConfig read_stream(Reader& r, const toml::table& t, const Config& cfg,
                         const std::set<std::string>& operators) {
  r.only_keys(t, "[[stream]]",
              {"name", "ports", "exclude", "mode", "over_cap", "hourly_cap", "daily_cap", "burst",
               "operator_hourly", "operator_daily", "ramp", "postfix", "milter", "listmonk"});
  StreamConfig s;
  s.mode = cfg.default_mode;
  if (auto n = t.get("name")) {
    if (auto v = r.str(*n, "name")) {
      s.name = *v;
      if (!valid_name(s.name))
        r.error(*n, "stream name '" + s.name + "' must be 1-32 of a-z 0-9 _ -");
    }
  } else {
    r.error_at(t.source().begin, "[[stream]] needs a 'name'");
  }
  if (auto n = t.get("ports")) {
    auto arr = n->as_array();
    if (!arr || arr->empty())
      r.error(*n, "'ports' must be a non-empty array of port numbers");
    else
      for (const auto& p : *arr)
        if (auto v = r.integer(p, "ports", 1, 65535)) s.ports.push_back(static_cast<uint16_t>(*v));
  } else {
    r.error_at(t.source().begin, "stream '" + s.name + "' needs 'ports', its submission port(s)");
  }
  if (auto n = t.get("exclude")) {
    s.exclude = r.strings(*n, "exclude");
    for (const auto& name : s.exclude)
      if (!cfg.lists.count(name))
        r.error(*n, "'exclude' names list '" + name + "', which [lists] does not define");
  }
  if (auto n = t.get("mode"))
    if (auto v = r.choice(*n, "mode", kStreamModeNames)) s.mode = *v;
  if (auto n = t.get("over_cap"))
    if (auto v =
            r.choice<Action>(*n, "over_cap", {{"defer", Action::defer}, {"hold", Action::hold}}))
      s.over_cap = *v;
  if (auto n = t.get("hourly_cap"))
    if (auto v = r.integer(*n, "hourly_cap", 0, 100'000'000)) s.hourly_cap = *v;
  if (auto n = t.get("daily_cap"))
    if (auto v = r.integer(*n, "daily_cap", 0, 100'000'000)) s.daily_cap = *v;
  if (auto n = t.get("burst"))
    if (auto v = r.integer(*n, "burst", 1, 1'000'000)) s.burst = static_cast<uint32_t>(*v);
  if (auto n = t.get("operator_hourly"))
    s.operator_caps.hourly = operator_caps(r, *n, "operator_hourly", operators);
  if (auto n = t.get("operator_daily"))
    s.operator_caps.daily = operator_caps(r, *n, "operator_daily", operators);
  if (auto n = t.get("ramp")) s.ramp = read_ramp(r, *n, operators);
  if (auto n = t.get("postfix")) s.postfix = read_stream_postfix(r, *n);
  if (auto n = t.get("milter")) s.milter = read_stream_milter(r, *n);
  if (auto n = t.get("listmonk")) s.listmonk = read_listmonk(r, *n, cfg.path);
  if (s.postfix.transport.empty() && valid_name(s.name)) s.postfix.transport = "sg-" + s.name;
  if (s.postfix.syslog_name.empty() && valid_name(s.name))
    s.postfix.syslog_name = "postfix/" + s.name;
  return s;
}

// Cross-stream checks, each reported at the offending stream's own node.
// `arr` holds the [[stream]] tables in the order cfg.streams was read from.
void check_streams(Reader& r, const toml::array& arr, const Config& cfg) {
  std::map<uint16_t, std::size_t> port_owner;  // port -> index of the stream that has it
  std::set<std::string> names;
  std::map<std::string, std::string> listmonk_owner;  // dsn -> stream
  for (std::size_t i = 0; i < cfg.streams.size() && i < arr.size(); ++i) {
    const auto& s = cfg.streams[i];
    const auto& t = *arr.get(i)->as_table();
    if (!s.name.empty() && !names.insert(s.name).second)
      r.error(*t.get("name"), "stream name '" + s.name + "' is used twice");
    if (s.listmonk && !s.listmonk->dsn.empty()) {
      auto [it, fresh] = listmonk_owner.emplace(s.listmonk->dsn, s.name);
      if (!fresh)
        r.error(*t.get("listmonk"), "streams '" + it->second + "' and '" + s.name +
                                        "' name the same Listmonk database; each Listmonk "
                                        "instance paces one stream");
    }
    const toml::array* ports = t.get("ports") ? t.get("ports")->as_array() : nullptr;
    if (!ports) continue;
    for (const auto& node : *ports) {
      auto v = node.as_integer();
      if (!v || v->get() < 1 || v->get() > 65535) continue;  // already reported
      auto p = static_cast<uint16_t>(v->get());
      auto [it, fresh] = port_owner.emplace(p, i);
      if (fresh) continue;
      if (it->second == i)
        r.error(node, "port " + std::to_string(p) + " is listed twice in stream '" + s.name + "'");
      else
        r.error(node, "port " + std::to_string(p) + " belongs to both stream '" +
                          cfg.streams[it->second].name + "' and stream '" + s.name + "'");
    }
  }
}

}  // namespace sg::config_detail
