// [lists] (the domain list files) and [operators] (receiving operators by
// domain and MX suffix).
#include <filesystem>
#include <set>

#include "common/text.hpp"

#include <toml++/toml.h>

#include "common/config_reader.hpp"

namespace sg::config_detail {

void read_lists(Reader& r, const toml::table& t, const std::string& config_path,
                std::map<std::string, std::string>& out) {
  for (const auto& [k, v] : t) {
    std::string name(k.str());
    if (!valid_name(name)) {
      r.error(v, "list name '" + name + "' must be 1-32 of a-z 0-9 _ -");
      continue;
    }
    if (auto s = r.str(v, name)) out[name] = config_relative(*s, config_path);
  }
}

void read_operators(Reader& r, const toml::table& t,
                    const std::map<std::string, std::string>& lists,
                    std::vector<OperatorConfig>& out) {
  // The classifier maps each domain to one operator: a domain two operators
  // claim is an error here, not a silent pick.
  std::map<std::string, std::string> domain_owner;
  for (const auto& [k, v] : t) {
    OperatorConfig op;
    op.name = std::string(k.str());
    if (!valid_name(op.name) || op.name == "default") {
      r.error(v, "operator name '" + op.name + "' must be 1-32 of a-z 0-9 _ - and not 'default'");
      continue;
    }
    auto ot = r.table(v, "operators." + op.name);
    if (!ot) continue;
    r.only_keys(*ot, "[operators." + op.name + "]", {"domains", "mx_suffixes", "list"});
    if (auto n = ot->get("list")) {
      if (auto l = r.str(*n, "list")) {
        op.list = *l;
        if (!lists.count(op.list))
          r.error(*n, "operator '" + op.name + "' counts as list '" + op.list +
                          "', which [lists] does not define");
      }
    }
    if (auto n = ot->get("domains")) op.domains = r.strings(*n, "domains");
    if (auto n = ot->get("mx_suffixes")) op.mx_suffixes = r.strings(*n, "mx_suffixes");
    for (auto& d : op.domains) text::lower_in_place(d);
    for (auto& d : op.mx_suffixes) text::lower_in_place(d);
    for (const auto& d : op.domains) {
      auto [it, fresh] = domain_owner.emplace(d, op.name);
      if (!fresh && it->second != op.name)  // the same operator twice is harmless
        r.error(*ot->get("domains"), "domain '" + d + "' belongs to both operator '" + it->second +
                                         "' and operator '" + op.name + "'");
    }
    out.push_back(std::move(op));
  }
}

}  // namespace sg::config_detail
