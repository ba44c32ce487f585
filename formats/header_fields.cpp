// The header-field grammar of RFC 5322 and RFC 2045 as the hygiene checks
// need it: tokens, quoted strings, comments, Content-Type and
// Content-Disposition parameters, mailbox lists. Bounded and allocation-light:
// it reads what a sender wrote, never trusts it.
#include "formats/header_fields.hpp"

#include <algorithm>
#include <array>

#include "common/text.hpp"
#include "formats/hygiene.hpp"

namespace sg::hygiene {

using namespace detail;

namespace {

// RFC 2045 token: printable US-ASCII except SPACE and tspecials.
bool is_token_char(char c) {
  if (c <= ' ' || c >= 0x7f) return false;
  constexpr std::string_view tspecials = "()<>@,;:\\\"/[]?=";
  return tspecials.find(c) == std::string_view::npos;
}

std::string_view read_token(std::string_view s, std::size_t& i) {
  const std::size_t start = i;
  while (i < s.size() && is_token_char(s[i])) ++i;
  return s.substr(start, i - start);
}

// At an opening '"': the unquoted content; folding (CR, LF) is dropped.
std::string read_quoted(std::string_view s, std::size_t& i) {
  std::string out;
  ++i;
  while (i < s.size() && s[i] != '"') {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;  // a quoted pair
    if (s[i] != '\r' && s[i] != '\n') out += s[i];
    ++i;
  }
  if (i < s.size()) ++i;  // the closing quote
  return out;
}

// Past the next ';' outside quotes and comments (or to the end).
void skip_to_semicolon(std::string_view s, std::size_t& i) {
  while (i < s.size() && s[i] != ';') {
    if (s[i] == '"') {
      (void)read_quoted(s, i);
    } else if (s[i] == '(') {
      skip_cfws(s, i);
    } else {
      ++i;
    }
  }
}

}  // namespace

namespace detail {

// Skips whitespace (folding included) and comments, which nest and may hold
// quoted pairs. An unterminated comment runs to the end.
void skip_cfws(std::string_view s, std::size_t& i) {
  while (i < s.size()) {
    if (is_space(s[i])) {
      ++i;
    } else if (s[i] == '(') {
      std::size_t depth = 0;
      while (i < s.size()) {
        const char c = s[i++];
        if (c == '\\') {
          if (i < s.size()) ++i;
        } else if (c == '(') {
          ++depth;
        } else if (c == ')') {
          if (--depth == 0) break;
        }
      }
    } else {
      break;
    }
  }
}

// The disposition type of a Content-Disposition value, lowercase.
std::string parse_disposition(std::string_view value) {
  std::size_t i = 0;
  skip_cfws(value, i);
  return lower(read_token(value, i));
}

// The address (local@domain) of each mailbox in a From value, at most `max`
// of them, and how many there are (up to max + 1, enough to tell "several").
// Handles display names (quoted ones with ',' '<' '@' inside), comments,
// groups ("name: a@b, c@d;"), obsolete routes (<@relay:user@domain>) and
// domain literals.
namespace {

// One mailbox of a list being read: the text outside angle brackets (a bare
// addr-spec) and the first <angle address>.
struct Mailbox {
  std::string outside, angle;
  bool in_angle = false, has_angle = false;

  // Whether quoted strings and domain literals belong to the address.
  bool taking() const { return !has_angle || in_angle; }
  std::string& target() { return in_angle ? angle : outside; }

  // One character outside quotes, comments and brackets; false at the end
  // of this mailbox (',' or ';').
  bool plain(char c) {
    if (in_angle) {
      if (c == '>')
        in_angle = false;
      else
        angle += c;
      return true;
    }
    switch (c) {
      case '<':  // the first angle address of a mailbox counts; later ones are ignored
        if (!has_angle) has_angle = in_angle = true;
        return true;
      case ',':
      case ';':
        return false;
      case ':':  // a group's display name: what came before is no address
        if (!has_angle) outside.clear();
        return true;
      default:
        if (!has_angle) outside += c;
        return true;
    }
  }

  // The address read (a source route "@a,@b:" dropped); then starts over.
  std::string take() {
    std::string addr = has_angle ? angle : outside;
    if (has_angle && !addr.empty() && addr.front() == '@') {
      const auto colon = addr.find(':');
      addr = colon == std::string::npos ? std::string() : addr.substr(colon + 1);
    }
    *this = Mailbox{};
    return addr;
  }
};

}  // namespace

std::vector<std::string> mailbox_addresses(std::string_view v, std::size_t& count) {
  std::vector<std::string> out;
  count = 0;
  Mailbox m;
  auto finish_one = [&] {
    std::string addr = m.take();
    if (addr.empty()) return;
    ++count;
    if (out.empty()) out.push_back(std::move(addr));
  };
  std::size_t i = 0;
  while (i < v.size()) {
    const char c = v[i];
    if (c == '(') {
      skip_cfws(v, i);
    } else if (c == '"') {
      // Kept with its quotes: in a bare addr-spec it is the local part.
      const std::size_t start = i;
      (void)read_quoted(v, i);
      if (m.taking()) m.target() += v.substr(start, i - start);
    } else if (c == '[') {
      const auto end = v.find(']', i);
      const std::size_t stop = end == std::string_view::npos ? v.size() : end + 1;
      if (m.taking()) m.target() += v.substr(i, stop - i);
      i = stop;
    } else {
      ++i;
      if (!is_space(c) && !m.plain(c)) finish_one();
    }
  }
  finish_one();
  return out;
}

// The position of the '@' that starts the domain of an address: the last one
// outside quotes.
std::size_t domain_at(std::string_view addr) {
  std::size_t at = std::string_view::npos;
  bool quoted = false;
  for (std::size_t i = 0; i < addr.size(); ++i) {
    if (quoted && addr[i] == '\\') {
      ++i;
    } else if (addr[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && addr[i] == '@') {
      at = i;
    }
  }
  return at;
}

}  // namespace detail

std::optional<std::string> ContentType::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return std::nullopt;
}

ContentType parse_content_type(std::string_view s) {
  ContentType ct;
  std::size_t i = 0;
  skip_cfws(s, i);
  const auto type = read_token(s, i);
  skip_cfws(s, i);
  if (type.empty() || i >= s.size() || s[i] != '/') return ct;
  ++i;
  skip_cfws(s, i);
  const auto subtype = read_token(s, i);
  if (subtype.empty()) return ct;
  ct.valid = true;
  ct.type = lower(type);
  ct.subtype = lower(subtype);
  while (i < s.size()) {
    skip_to_semicolon(s, i);  // garbage before the ';' is ignored
    if (i >= s.size()) break;
    ++i;
    skip_cfws(s, i);
    const auto name = read_token(s, i);
    skip_cfws(s, i);
    if (name.empty() || i >= s.size() || s[i] != '=') continue;
    ++i;
    skip_cfws(s, i);
    std::string value;
    if (i < s.size() && s[i] == '"') {
      value = read_quoted(s, i);
    } else {
      const std::size_t start = i;
      while (i < s.size()) {
        const char c = s[i];
        if (c == ';' || c == '(' || c == '"' || is_space(c) || c < ' ' || c == 0x7f) break;
        ++i;
      }
      value = s.substr(start, i - start);
    }
    std::string key = lower(name);
    if (!ct.param(key)) ct.params.emplace_back(std::move(key), std::move(value));
  }
  return ct;
}

bool is_local_domain(std::string_view domain) {
  std::string d = lower(trim(domain));
  if (!d.empty() && d.back() == '.') d.pop_back();
  if (d.empty() || d.front() == '[') return true;
  const auto dot = d.rfind('.');
  if (dot == std::string::npos) return true;  // a single label
  const std::string_view tld = std::string_view(d).substr(dot + 1);
  if (tld.empty()) return true;
  if (std::all_of(tld.begin(), tld.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return true;
  }
  static constexpr std::array<std::string_view, 10> kLocalTlds = {
      "localhost", "localdomain", "local", "internal", "lan",
      "home",      "corp",        "test",  "example",  "invalid"};
  for (const auto t : kLocalTlds) {
    if (tld == t) return true;
  }
  return d.ends_with(".home.arpa");
}

}  // namespace sg::hygiene
