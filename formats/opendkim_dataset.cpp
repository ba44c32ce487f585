// OpenDKIM's data sets and host lists: parsing them (flat files, refile
// patterns, csl) and matching a client against InternalHosts, PeerList and
// ExternalIgnoreList as OpenDKIM does.
#include "formats/opendkim.hpp"

#include <arpa/inet.h>

#include <array>

#include "formats/opendkim_detail.hpp"

namespace sg::dkim {

using namespace detail;

namespace {

// ---- addresses -------------------------------------------------------------

using V4 = std::array<std::uint8_t, 4>;
using V6 = std::array<std::uint8_t, 16>;

// Dotted quad; `canonical` is false when a part has a leading zero.
std::optional<V4> parse_v4(std::string_view s, bool& canonical) {
  canonical = true;
  V4 out{};
  for (int i = 0; i < 4; ++i) {
    const auto dot = s.find('.');
    if ((i < 3) != (dot != std::string_view::npos)) return std::nullopt;
    const std::string_view part = s.substr(0, dot);
    if (!all_digits(part) || part.size() > 3) return std::nullopt;
    int v = 0;
    for (char c : part) v = v * 10 + (c - '0');
    if (v > 255) return std::nullopt;
    if (part.size() > 1 && part.front() == '0') canonical = false;
    out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
    s = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  }
  return out;
}

std::optional<V6> parse_v6(std::string_view s) {
  if (s.empty() || s.size() > 64 || s.find('\0') != std::string_view::npos) return std::nullopt;
  const std::string z(s);
  V6 out{};
  if (inet_pton(AF_INET6, z.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

std::string v4_text(const V4& a) {
  return std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." +
         std::to_string(a[3]);
}

std::string v6_text(const V6& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(AF_INET6, a.data(), buf, sizeof buf) == nullptr) return {};
  return lower(buf);
}

template <std::size_t N>
std::array<std::uint8_t, N> masked(std::array<std::uint8_t, N> a, int bits) {
  for (std::size_t i = 0; i < N; ++i) {
    const int keep = bits - static_cast<int>(i) * 8;
    if (keep >= 8) continue;
    a[i] = keep <= 0 ? 0 : static_cast<std::uint8_t>(a[i] & (0xFF << (8 - keep)));
  }
  return a;
}

// The keys OpenDKIM looks up for a client address, most specific first;
// a "net/N" key only for the N some entry of `list` has (the others cannot
// match, and an IPv6 address has 129 of them, each formatted and looked up
// twice, for every message the milter predicts).
std::vector<std::string> ip_keys(const Dataset& list, std::string_view ip) {
  std::vector<std::string> keys;
  if (starts_with(lower(ip.substr(0, 5)), "ipv6:")) ip.remove_prefix(5);
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  bool canonical = true;
  if (const auto v4 = parse_v4(ip, canonical)) {
    const std::string text = v4_text(*v4);
    keys.push_back(text);
    keys.push_back("[" + text + "]");
    for (int bits = 32; bits >= 0; --bits) {
      if (!list.may_hold_prefix(bits)) continue;
      const std::string net = v4_text(masked(*v4, bits));
      keys.push_back(net + "/" + std::to_string(bits));
      keys.push_back("[" + net + "]/" + std::to_string(bits));
    }
  } else if (const auto v6 = parse_v6(ip)) {
    const std::string text = v6_text(*v6);
    keys.push_back(text);
    keys.push_back("[" + text + "]");
    for (int bits = 128; bits >= 0; --bits) {
      if (!list.may_hold_prefix(bits)) continue;
      const std::string net = v6_text(masked(*v6, bits));
      keys.push_back(net + "/" + std::to_string(bits));
      keys.push_back("[" + net + "]/" + std::to_string(bits));
    }
  }
  return keys;
}

// The hostname, then every ".parent" suffix.
std::vector<std::string> host_keys(std::string_view host) {
  std::vector<std::string> keys;
  std::string h = lower(trim(host));
  while (!h.empty() && h.back() == '.') h.pop_back();
  if (h.empty() || h == "unknown" || h.front() == '[') return keys;
  keys.push_back(h);
  for (auto dot = h.find('.', 1); dot != std::string::npos; dot = h.find('.', dot + 1)) {
    keys.push_back(h.substr(dot));
  }
  return keys;
}

HostMatch match_keys(const Dataset& list, const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    if (const auto* e = list.find("!" + key)) return {false, e};
    if (const auto* e = list.find(key)) return {true, e};
  }
  return {};
}

// Checks one host list entry; returns an error message or "".
// An address or CIDR entry, as OpenDKIM compares it: as text, masked.
std::string check_address_entry(const std::string& quoted, std::string_view addr,
                                std::optional<std::string_view> bits, bool looks_v6) {
  bool canonical = true;
  std::string text;
  std::string net;
  int n = -1;
  if (bits) {
    if (!all_digits(*bits) || bits->size() > 3) return "bad CIDR " + quoted + ": bad prefix length";
    n = std::stoi(std::string(*bits));
  }
  if (const auto v4 = parse_v4(addr, canonical)) {
    text = v4_text(*v4);
    if (n > 32) return "bad CIDR " + quoted + ": prefix longer than 32";
    if (n >= 0) net = v4_text(masked(*v4, n));
  } else if (const auto v6 = parse_v6(addr)) {
    text = v6_text(*v6);
    if (n > 128) return "bad CIDR " + quoted + ": prefix longer than 128";
    if (n >= 0) net = v6_text(masked(*v6, n));
  } else {
    return std::string(bits ? "bad CIDR " : "bad address ") + quoted +
           (looks_v6 ? ": not an IPv6 address" : ": not an IPv4 address (a.b.c.d)");
  }
  if (n >= 0 && net != text) {
    return "bad CIDR " + quoted + ": host bits are set; OpenDKIM compares the masked client " +
           "address as text, so it never matches; write " + net + "/" + std::to_string(n);
  }
  // The prefix is text too: OpenDKIM looks up "net/12", never "net/012".
  if (std::string_view(text) != addr || (bits && *bits != std::to_string(n))) {
    return quoted + " is not in canonical form; OpenDKIM compares addresses as text, so it " +
           "never matches; write " + text + (n >= 0 ? "/" + std::to_string(n) : "");
  }
  return {};
}

// A hostname or ".domain" entry.
std::string check_name_entry(const std::string& quoted, std::string_view addr) {
  for (char c : addr) {
    if (c == '*') {
      return quoted + ": '*' is only a wildcard in refile: data sets; " +
             "for a domain and its hosts write \".example.com\"";
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_';
    if (!ok) return quoted + " is not a hostname, .domain, address or CIDR";
  }
  const std::string_view name = addr.front() == '.' ? addr.substr(1) : addr;
  if (name.empty() || name.front() == '.' || name.back() == '.' ||
      name.find("..") != std::string_view::npos) {
    return quoted + " is not a hostname or .domain (an empty label)";
  }
  return {};
}

std::string check_host_entry(std::string_view key) {
  if (!key.empty() && key.front() == '!') key.remove_prefix(1);
  if (key.empty()) return "empty host list entry";
  std::string_view addr = key;
  std::optional<std::string_view> bits;
  bool bracketed = false;
  if (key.front() == '[') {
    const auto close = key.find(']');
    if (close == std::string_view::npos) return "\"" + std::string(key) + "\": no closing ']'";
    addr = key.substr(1, close - 1);
    const std::string_view rest = key.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != '/') return "\"" + std::string(key) + "\": text after ']'";
      bits = rest.substr(1);
    }
    bracketed = true;
  } else if (const auto slash = key.find('/'); slash != std::string_view::npos) {
    addr = key.substr(0, slash);
    bits = key.substr(slash + 1);
  }
  const std::string quoted = "\"" + std::string(key) + "\"";
  const bool looks_v4 =
      !addr.empty() && addr.find_first_not_of("0123456789.") == std::string_view::npos;
  const bool looks_v6 = addr.find(':') != std::string_view::npos;
  if (bits || bracketed || looks_v4 || looks_v6)
    return check_address_entry(quoted, addr, bits, looks_v6);
  return check_name_entry(quoted, addr);
}

}  // namespace

std::string Error::str() const {
  return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
}

bool wildcard_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && lower_char(pattern[p]) == lower_char(text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

const DatasetEntry* Dataset::find(std::string_view key) const {
  if (kind == DatasetKind::kRefile) {
    for (const auto& e : entries) {
      if (wildcard_match(e.key, key)) return &e;
    }
    return nullptr;
  }
  const auto it = index_.find(lower(key));
  return it == index_.end() ? nullptr : &entries[it->second];
}

void Dataset::index() {
  index_.clear();
  prefixes_.reset();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    index_.emplace(lower(entries[i].key), i);
    const std::string_view key = entries[i].key;
    const auto slash = key.rfind('/');
    if (slash == std::string_view::npos) continue;
    const std::string_view n = key.substr(slash + 1);
    if (n.empty() || n.size() > 3 || !all_digits(n)) continue;
    if (const int bits = std::stoi(std::string(n)); bits <= 128) prefixes_.set(bits);
  }
}

bool Dataset::may_hold_prefix(int bits) const {
  return kind == DatasetKind::kRefile || (bits >= 0 && bits <= 128 && prefixes_.test(bits));
}

Dataset parse_dataset(std::string_view text, DatasetKind kind, const std::string& file_name,
                      std::vector<Error>& errors, int line) {
  Dataset ds;
  ds.kind = kind;
  if (kind == DatasetKind::kCsl) {
    std::string_view rest = text;
    while (true) {
      const auto comma = rest.find(',');
      const std::string_view item = trim(rest.substr(0, comma));
      if (!item.empty()) {
        const auto eq = item.find('=');
        DatasetEntry e;
        e.key = std::string(trim(item.substr(0, eq)));
        if (eq != std::string_view::npos) e.value = std::string(trim(item.substr(eq + 1)));
        e.file = file_name;
        e.line = line;
        if (e.key.empty()) {
          errors.push_back({file_name, line, "\"" + std::string(item) + "\": no key before '='"});
        } else {
          ds.entries.push_back(std::move(e));
        }
      }
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  } else {
    for_each_line(text, [&](int number, std::string_view raw) {
      const std::string_view l = uncomment(raw);
      if (l.empty()) return;
      std::size_t end = 0;
      while (end < l.size() && !is_space(l[end])) ++end;
      DatasetEntry e;
      e.key = std::string(l.substr(0, end));
      e.value = std::string(trim(l.substr(end)));
      e.file = file_name;
      e.line = number;
      ds.entries.push_back(std::move(e));
    });
  }
  ds.index();
  return ds;
}

Dataset parse_host_list(std::string_view text, DatasetKind kind, const std::string& file_name,
                        std::vector<Error>& errors, int line) {
  Dataset ds = parse_dataset(text, kind, file_name, errors, line);
  if (kind == DatasetKind::kRefile) return ds;
  for (const auto& e : ds.entries) {
    if (auto msg = check_host_entry(e.key); !msg.empty()) {
      errors.push_back({e.file, e.line, std::move(msg)});
    }
  }
  return ds;
}

HostMatch match_host(const Dataset& list, std::string_view ip, std::string_view hostname) {
  const HostMatch by_ip = match_keys(list, ip_keys(list, ip));
  if (by_ip.matched) return by_ip;
  const HostMatch by_host = match_keys(list, host_keys(hostname));
  if (by_host.matched) return by_host;
  return by_ip.entry ? by_ip : by_host;
}

}  // namespace sg::dkim
