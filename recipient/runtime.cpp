#include "recipient/runtime.hpp"

#include <algorithm>

namespace sg {

RuntimeResult build_runtime(std::shared_ptr<const Config> config) {
  RuntimeResult out;
  std::map<std::string, DomainList> lists;
  std::vector<ListError> list_errors;
  for (const auto& [name, path] : config->lists)
    lists.emplace(name, DomainList::load(path, list_errors));
  for (const auto& e : list_errors)
    out.errors.push_back({e.file, e.line, e.line ? 1u : 0u, e.message});
  if (!out.errors.empty()) return out;
  std::map<std::string, std::string> operator_list;
  for (const auto& op : config->operators)
    if (!op.list.empty()) operator_list[op.name] = op.list;
  std::set<std::string> needing;
  for (const auto& s : config->streams) {
    bool needs = !s.operator_caps.hourly.empty() || !s.operator_caps.daily.empty();
    for (const auto& [op, list] : operator_list)
      needs = needs || std::find(s.exclude.begin(), s.exclude.end(), list) != s.exclude.end();
    if (needs) needing.insert(s.name);
  }
  out.runtime = std::make_shared<const Runtime>(
      Runtime{config, Classifier(std::move(lists), config->operator_domains()),
              MxOperatorMap(config->operators), std::move(operator_list), std::move(needing)});
  return out;
}

RuntimeResult load_runtime(const std::string& config_path) {
  auto loaded = load_config(config_path);
  if (!loaded.config) return RuntimeResult{nullptr, std::move(loaded.errors)};
  return build_runtime(loaded.config);
}

RuntimeResult load_runtime(const std::string& config_path, const DnsChoice& dns) {
  auto loaded = load_config(config_path);
  if (!loaded.config) return RuntimeResult{nullptr, std::move(loaded.errors)};
  if (dns.servers.empty() && !dns.no_mx) return build_runtime(loaded.config);
  auto cfg = std::make_shared<Config>(*loaded.config);
  if (dns.no_mx) cfg->dns.enabled = false;
  if (!dns.servers.empty()) {
    cfg->dns.enabled = true;
    cfg->dns.servers = dns.servers;
  }
  return build_runtime(std::move(cfg));
}

}  // namespace sg
