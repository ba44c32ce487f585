// Helpers for tests that parse configuration text: one way to turn a test's
// raw string into a ConfigResult and its errors into a message.
#pragma once

#include <string>
#include <string_view>

#include "common/config.hpp"

namespace sg::testing {

inline const std::string kConfigFile = "/etc/streamguard/streamguard.toml";

// Test texts are raw strings starting with a newline after R"( so they read
// well; drop it, so line 1 is the first line written.
inline ConfigResult parse_text(std::string_view text, const std::string& path = kConfigFile) {
  if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
  return parse_config(text, path);
}

inline std::string all_errors(const ConfigResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.to_string() + "\n";
  return out;
}

}  // namespace sg::testing
