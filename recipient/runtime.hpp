// What one request is decided with: a validated config and the classifier
// built from its lists. Immutable; a reload builds a new one and swaps the
// shared_ptr, so a request in flight keeps the runtime it began with.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "common/config.hpp"
#include "rules/classifier.hpp"
#include "rules/mx_operator.hpp"

namespace sg {

struct Runtime {
  std::shared_ptr<const Config> config;
  Classifier classifier;
  MxOperatorMap mx_operators;
  std::map<std::string, std::string> operator_list;  // operator -> the list its domains count as
  std::set<std::string> streams_needing_mx;          // streams an operator changes anything for

  // Whether an MX lookup can change the answer for this stream: it has
  // operator caps, or excludes a list an operator's domains count as.
  bool needs_mx(const StreamConfig& s) const {
    return config->dns.enabled && !mx_operators.empty() && streams_needing_mx.count(s.name) > 0;
  }
};

struct RuntimeResult {
  std::shared_ptr<const Runtime> runtime;  // null when errors is not empty
  std::vector<ConfigError> errors;
};

// Loads the config file and every list it names; all errors are collected.
RuntimeResult load_runtime(const std::string& config_path);

// A command line's say over [dns] (streamguardctl explain and classify):
// these servers instead of the config's (lookups on), or no lookups at all.
struct DnsChoice {
  std::vector<std::string> servers;  // "IP" or "IP:PORT", checked by the caller
  bool no_mx = false;
};
RuntimeResult load_runtime(const std::string& config_path, const DnsChoice& dns);
RuntimeResult build_runtime(std::shared_ptr<const Config> config);

}  // namespace sg
