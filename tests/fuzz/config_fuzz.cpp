// libFuzzer target for the configuration parser: any bytes must give either a
// config or a list of errors that each name the file and a position, never a
// crash, a hang or an exception.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto result = sg::parse_config(text, "/fuzz/streamguard.toml");
  // Exactly one of the two: a config, or the reasons there is none.
  if ((result.config == nullptr) == result.errors.empty()) std::abort();
  for (const auto& e : result.errors) {
    if (e.file != "/fuzz/streamguard.toml" || e.message.empty()) std::abort();
  }
  if (result.config) {
    for (const auto& s : result.config->streams) {
      if (s.name.empty() || s.ports.empty()) std::abort();
      for (auto p : s.ports)
        if (result.config->stream_for_port(p) != &s) std::abort();
    }
  }
  return 0;
}
