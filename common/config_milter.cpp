// [milter] and a stream's `milter = { ... }`: the milter's checks and actions.
#include <filesystem>

#include <toml++/toml.h>

#include "common/config_reader.hpp"
#include "common/text.hpp"

namespace sg::config_detail {

void read_milter(Reader& r, const toml::table& t, MilterConfig& out) {
  r.only_keys(t, "[milter]",
              {"listen", "status", "opendkim_conf", "header", "unknown_stream", "reload_check_s",
               "engine"});
  if (auto n = t.get("listen")) {
    auto eps = endpoints(r, *n, "listen");
    if (eps.size() > 1) r.error(*n, "[milter] 'listen' takes one address (libmilter serves one)");
    if (!eps.empty()) out.listen = eps.front();
  }
  if (auto n = t.get("status")) out.status = endpoints(r, *n, "status");
  if (auto n = t.get("opendkim_conf"))
    if (auto v = r.str(*n, "opendkim_conf")) out.opendkim_conf = *v;
  if (auto n = t.get("header")) {
    if (auto v = r.str(*n, "header")) {
      bool ok = !v->empty() && v->size() <= 64 && std::all_of(v->begin(), v->end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-';
      });
      if (ok)
        out.header = *v;
      else
        r.error(*n, "'header' is \"" + *v + "\", must be a header name: 1-64 of A-Z a-z 0-9 -");
    }
  }
  if (auto n = t.get("unknown_stream"))
    if (auto a = r.choice(*n, "unknown_stream", kCheckActionNames)) out.unknown_stream = *a;
  if (auto n = t.get("reload_check_s"))
    if (auto v = r.integer(*n, "reload_check_s", 1, 3600))
      out.reload_check_s = static_cast<uint32_t>(*v);
  if (auto n = t.get("engine"))
    if (auto e = r.choice(*n, "engine", kMilterEngineNames)) out.engine = *e;
}

StreamMilterConfig read_stream_milter(Reader& r, const toml::node& n) {
  StreamMilterConfig out;
  auto t = r.table(n, "milter");
  if (!t) return out;
  r.only_keys(*t, "a stream's milter",
              {"dkim", "message_id", "html_only", "unsubscribe", "from_domain", "from_domains"});
  auto action = [&](const char* key, CheckAction& field) {
    if (auto v = t->get(key))
      if (auto a = r.choice(*v, key, kCheckActionNames)) field = *a;
  };
  action("dkim", out.dkim);
  action("message_id", out.message_id);
  action("html_only", out.html_only);
  action("unsubscribe", out.unsubscribe);
  action("from_domain", out.from_domain);
  if (auto v = t->get("from_domains")) {
    out.from_domains = r.strings(*v, "from_domains");
    for (auto& d : out.from_domains) text::lower_in_place(d);
  }
  return out;
}

}  // namespace sg::config_detail
