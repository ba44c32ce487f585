// [rampd] and a stream's `listmonk = { ... }`: streamguard-rampd's settings.
#include <filesystem>

#include "common/config_reader.hpp"

namespace sg::config_detail {
namespace {

// "30m", "1h", "90s": what Listmonk's sliding-window duration accepts (a Go
// duration); we allow one number and one unit, which covers every sane value.
bool go_duration(std::string_view s) {
  if (s.size() < 2) return false;
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0 || digits > 6) return false;
  auto unit = s.substr(digits);
  if (unit != "s" && unit != "m" && unit != "h") return false;
  // Listmonk ignores a window of 1 s or less (and sends without any limit).
  return !(unit == "s" && std::stoi(std::string(s.substr(0, digits))) <= 1);
}

}  // namespace

void read_rampd(Reader& r, const toml::table& t, const std::string& config_path, RampdConfig& out) {
  r.only_keys(
      t, "[rampd]",
      {"status", "interval_s", "maillog", "maillog_from", "drain", "drain_interval_s",
       "held_warn_s", "postfix_config_dir", "postfix_command_dir", "state_file", "queue_helper"});
  if (auto n = t.get("queue_helper"))
    if (auto v = r.str(*n, "queue_helper"); v && !v->empty()) {
      std::string err;
      auto ep = parse_endpoint(*v, err);
      if (!ep || ep->kind != Endpoint::Kind::unix_socket)
        r.error(*n, "'queue_helper' is streamguard-queue-helper's socket, unix:/path" +
                        (ep ? std::string() : ": " + err));
      else
        out.queue_helper = *ep;
    }
  if (auto n = t.get("status")) out.status = endpoints(r, *n, "status");
  if (auto n = t.get("interval_s"))
    if (auto v = r.integer(*n, "interval_s", 1, 3600)) out.interval_s = static_cast<uint32_t>(*v);
  if (auto n = t.get("maillog"))
    if (auto v = r.str(*n, "maillog"))
      out.maillog = v->empty() ? std::string() : config_relative(*v, config_path);
  if (auto n = t.get("maillog_from"))
    if (auto v = r.choice<bool>(*n, "maillog_from", {{"end", false}, {"start", true}}))
      out.maillog_from_start = *v;
  if (auto n = t.get("drain")) {
    if (auto b = n->value<bool>())
      out.drain = *b;
    else
      r.error(*n, "'drain' must be true or false");
  }
  if (auto n = t.get("drain_interval_s"))
    if (auto v = r.integer(*n, "drain_interval_s", 1, 3600))
      out.drain_interval_s = static_cast<uint32_t>(*v);
  if (auto n = t.get("held_warn_s"))
    if (auto v = r.integer(*n, "held_warn_s", 1, 30 * 86400))
      out.held_warn_s = static_cast<uint32_t>(*v);
  if (auto n = t.get("state_file"))
    if (auto v = r.str(*n, "state_file")) {
      if (v->empty())
        r.error(*n, "'state_file' must name a file (rampd keeps today's counts there)");
      else
        out.state_file = config_relative(*v, config_path);
    }
  if (auto n = t.get("postfix_config_dir"))
    if (auto v = r.str(*n, "postfix_config_dir")) out.postfix_config_dir = *v;
  if (auto n = t.get("postfix_command_dir"))
    if (auto v = r.str(*n, "postfix_command_dir")) {
      if (v->empty() || (*v)[0] != '/')
        r.error(*n, "'postfix_command_dir' must be an absolute path (where postsuper is)");
      else
        out.postfix_command_dir = *v;
    }
}

std::optional<ListmonkConfig> read_listmonk(Reader& r, const toml::node& n,
                                            const std::string& config_path) {
  auto t = r.table(n, "listmonk");
  if (!t) return std::nullopt;
  r.only_keys(*t, "a stream's listmonk",
              {"dsn", "fraction", "window", "reload_url", "api_user", "api_token_file",
               "timeout_ms", "blocklist"});
  ListmonkConfig out;
  if (auto v = t->get("dsn")) {
    if (auto s = r.str(*v, "dsn")) {
      if (s->empty())
        r.error(*v, "'dsn' is empty: name Listmonk's database (postgresql:///listmonk)");
      out.dsn = *s;
    }
  } else {
    r.error(n, "a stream's listmonk needs 'dsn', Listmonk's database (postgresql:///listmonk)");
  }
  if (auto v = t->get("fraction")) {
    auto d = v->value<double>();
    if (!d || *d <= 0 || *d > 1)
      r.error(*v,
              "'fraction' must be a number above 0 and at most 1 (0.9: Listmonk paces at "
              "90% of the MTA cap)");
    else
      out.fraction = *d;
  }
  if (auto v = t->get("window")) {
    if (auto s = r.str(*v, "window")) {
      if (go_duration(*s))
        out.window = *s;
      else
        r.error(*v, "'window' is \"" + *s +
                        "\", must be a duration above 1s such as \"1h\" or \"30m\" (Listmonk "
                        "ignores shorter windows)");
    }
  }
  if (auto v = t->get("reload_url")) {
    if (auto s = r.str(*v, "reload_url")) {
      if (!s->empty() && s->rfind("http://", 0) != 0)
        r.error(*v,
                "'reload_url' must start with http:// (Listmonk's own listener, e.g. "
                "http://127.0.0.1:9000/api/admin/reload)");
      else
        out.reload_url = *s;
    }
  }
  for (auto [key, field] : {std::pair{"blocklist", &out.blocklist},
                            std::pair{"blocklist_domains", &out.blocklist_domains}}) {
    if (auto v = t->get(key)) {
      if (auto b = v->as_boolean())
        *field = b->get();
      else
        r.error(*v, "'" + std::string(key) + "' must be true or false");
    }
  }
  if (auto v = t->get("api_user"))
    if (auto s = r.str(*v, "api_user")) out.api_user = *s;
  if (auto v = t->get("api_token_file"))
    if (auto s = r.str(*v, "api_token_file")) out.api_token_file = config_relative(*s, config_path);
  if (auto v = t->get("timeout_ms"))
    if (auto i = r.integer(*v, "timeout_ms", 100, 60000))
      out.timeout_ms = static_cast<uint32_t>(*i);
  if (out.api_user.empty() != out.api_token_file.empty())
    r.error(n, "a stream's listmonk takes 'api_user' and 'api_token_file' together");
  return out;
}

}  // namespace sg::config_detail
