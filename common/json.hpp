// JSON strings for the daemons' /status pages: one quoting, so a config path
// or a name with a quote, a backslash or a control character still gives
// valid JSON. (rampd builds its larger page with nlohmann::json.)
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace sg::json {

// `s` as a JSON string, quotes included (RFC 8259: '"', '\' and control
// characters escaped; other bytes, UTF-8 included, as they are).
inline std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// ["a","b"], each quoted as above.
inline std::string string_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + quote(items[i]);
  return out + "]";
}

}  // namespace sg::json
