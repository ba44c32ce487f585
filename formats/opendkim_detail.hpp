// Internal to the OpenDKIM model (formats/opendkim*.cpp): the small text
// helpers its three parts share, and the KeyTable value both the loader and
// the signing prediction read. Not for programs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.hpp"
#include "formats/opendkim.hpp"

namespace sg::dkim {
// ASCII text helpers, for every part of the model.
using text::iequals;
using text::is_space;
using text::lower;
using text::lower_char;
using text::trim;
}  // namespace sg::dkim

namespace sg::dkim::detail {

inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

inline bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Calls f(line_number, line) for every line, the '\r' of a CRLF removed.
template <class F>
void for_each_line(std::string_view text, F&& f) {
  int number = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f(number, line);
  }
}

// The line without its comment, trimmed.
inline std::string_view uncomment(std::string_view line) {
  const auto hash = line.find('#');
  if (hash != std::string_view::npos) line = line.substr(0, hash);
  return text::trim(line);
}

inline std::string where(const DatasetEntry& e) {
  return e.line > 0 ? e.file + ":" + std::to_string(e.line) : e.file;
}

inline std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// A KeyTable value "domain:selector:keyfile" (formats/opendkim_signing.cpp).
struct KeyTableValue {
  std::string domain;
  std::string selector;
  std::string key_file;
};

std::optional<KeyTableValue> split_key_value(std::string_view value);
std::string_view key_name_of(std::string_view value);

}  // namespace sg::dkim::detail
