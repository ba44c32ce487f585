// What one request is decided with: a validated config and the classifier
// built from its lists. Immutable; a reload builds a new one and swaps the
// shared_ptr, so a request in flight keeps the runtime it began with.
#pragma once

#include <memory>
#include <vector>

#include "common/classifier.hpp"
#include "common/config.hpp"

namespace sg {

struct Runtime {
  std::shared_ptr<const Config> config;
  Classifier classifier;
};

struct RuntimeResult {
  std::shared_ptr<const Runtime> runtime;  // null when errors is not empty
  std::vector<ConfigError> errors;
};

// Loads the config file and every list it names; all errors are collected.
RuntimeResult load_runtime(const std::string& config_path);
RuntimeResult build_runtime(std::shared_ptr<const Config> config);

}  // namespace sg
