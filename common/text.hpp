// Small ASCII text helpers every parser uses, one copy each: case folding
// for protocol tokens (header names, domains, table keys; never the
// locale's tolower, which a C library may fold differently), whitespace
// trimming, and a strict port number.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sg::text {

inline char lower_char(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower_char(c);
  return out;
}

inline void lower_in_place(std::string& s) {
  for (char& c : s) c = lower_char(c);
}

// ASCII whitespace: space, tab, CR, LF, form feed, vertical tab.
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower_char(a[i]) != lower_char(b[i])) return false;
  return true;
}

// Fit for a policy reply: one line of printable ASCII (anything else
// becomes '?') without a double quote ('\'' instead), since Postfix logs a
// reply and policyd logs it inside reply="...".
inline std::string reply_safe(std::string s) {
  for (char& c : s) {
    if (c < 0x20 || c > 0x7e) c = '?';
    if (c == '"') c = '\'';
  }
  return s;
}

// "25" -> 25; anything but a whole number from 1 to 65535 -> nullopt.
inline std::optional<uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace sg::text
