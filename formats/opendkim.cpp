#include "formats/opendkim.hpp"

#include "common/text.hpp"

#include <arpa/inet.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace sg::dkim {

namespace {

constexpr std::string_view kDefaultInternalSpec = "not set: the default is 127.0.0.1 and ::1";
constexpr int kMaxIncludeDepth = 5;
constexpr int kMaxConfFiles = 100;

using text::iequals;
using text::is_space;
using text::lower;
using text::lower_char;
using text::trim;

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool all_digits(std::string_view s) {
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
std::string_view uncomment(std::string_view line) {
  const auto hash = line.find('#');
  if (hash != std::string_view::npos) line = line.substr(0, hash);
  return trim(line);
}

std::string where(const DatasetEntry& e) {
  return e.line > 0 ? e.file + ":" + std::to_string(e.line) : e.file;
}

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

// The keys OpenDKIM looks up for a client address, most specific first.
std::vector<std::string> ip_keys(std::string_view ip) {
  std::vector<std::string> keys;
  if (starts_with(lower(ip.substr(0, 5)), "ipv6:")) ip.remove_prefix(5);
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  bool canonical = true;
  if (const auto v4 = parse_v4(ip, canonical)) {
    const std::string text = v4_text(*v4);
    keys.push_back(text);
    keys.push_back("[" + text + "]");
    for (int bits = 32; bits >= 0; --bits) {
      const std::string net = v4_text(masked(*v4, bits));
      keys.push_back(net + "/" + std::to_string(bits));
      keys.push_back("[" + net + "]/" + std::to_string(bits));
    }
  } else if (const auto v6 = parse_v6(ip)) {
    const std::string text = v6_text(*v6);
    keys.push_back(text);
    keys.push_back("[" + text + "]");
    for (int bits = 128; bits >= 0; --bits) {
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
  bool canonical = true;
  const bool looks_v4 =
      !addr.empty() && addr.find_first_not_of("0123456789.") == std::string_view::npos;
  const bool looks_v6 = addr.find(':') != std::string_view::npos;
  if (bits || bracketed || looks_v4 || looks_v6) {
    std::string text;
    std::string net;
    int n = -1;
    if (bits) {
      if (!all_digits(*bits) || bits->size() > 3)
        return "bad CIDR " + quoted + ": bad prefix length";
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
    if (std::string_view(text) != addr) {
      return quoted + " is not in canonical form; OpenDKIM compares addresses as text, so it " +
             "never matches; write " + text + (n >= 0 ? "/" + std::to_string(n) : "");
    }
    return {};
  }
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

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// ---- the loader ------------------------------------------------------------

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = errno != 0 ? std::strerror(errno) : "cannot open";
    return std::nullopt;
  }
  std::string text{std::istreambuf_iterator<char>(in), {}};
  if (in.bad()) {
    error = "read error";
    return std::nullopt;
  }
  return text;
}

class Loader {
 public:
  Loader(const FileReader& read, LoadResult& result) : read_(read), result_(result) {}

  void read_conf(const std::string& path, const std::string& from_file, int from_line, int depth) {
    if (++conf_files_ > kMaxConfFiles) {
      result_.errors.push_back({from_file, from_line, "more than 100 configuration files"});
      return;
    }
    for (const auto& open : chain_) {
      if (open == path) {
        result_.errors.push_back({from_file, from_line, "Include loop: " + path});
        return;
      }
    }
    result_.files.push_back(path);
    std::string err;
    const auto text = read_(path, err);
    if (!text) {
      result_.errors.push_back(
          {from_file.empty() ? path : from_file, from_line, "cannot read " + path + ": " + err});
      return;
    }
    chain_.push_back(path);
    for (auto& s : parse_conf(*text, path, result_.errors)) {
      if (iequals(s.name, "Include")) {
        if (depth >= kMaxIncludeDepth) {
          result_.errors.push_back({s.file, s.line, "Include nested deeper than 5 levels"});
        } else {
          read_conf(s.value, s.file, s.line, depth + 1);
        }
        continue;
      }
      settings_.push_back(std::move(s));
    }
    chain_.pop_back();
  }

  // The last occurrence of a setting (warns when given more than once).
  const ConfSetting* get(std::string_view name) {
    const ConfSetting* found = nullptr;
    for (const auto& s : settings_) {
      if (!iequals(s.name, name)) continue;
      if (found) {
        result_.warnings.push_back({s.file, s.line,
                                    std::string(name) + " is also set at " + found->file + ":" +
                                        std::to_string(found->line) + "; the last one is used"});
      }
      found = &s;
    }
    return found;
  }

  std::optional<bool> boolean(std::string_view name) {
    const auto* s = get(name);
    if (!s) return std::nullopt;
    switch (s->value.front()) {
      case 'T':
      case 't':
      case 'Y':
      case 'y':
      case '1':
        return true;
      case 'F':
      case 'f':
      case 'N':
      case 'n':
      case '0':
        return false;
      default:
        result_.errors.push_back(
            {s->file, s->line, std::string(name) + ": \"" + s->value + "\" is not a boolean"});
        return std::nullopt;
    }
  }

  std::optional<Dataset> dataset(std::string_view name, bool host_list) {
    const auto* s = get(name);
    if (!s) return std::nullopt;
    const std::string& v = s->value;
    static constexpr std::string_view kUnsupported[] = {
        "db:", "dsn:", "ldap:", "ldaps:", "ldapi:", "lua:", "memcache:", "erlang:", "mdb:"};
    for (auto prefix : kUnsupported) {
      if (starts_with(v, prefix)) {
        result_.errors.push_back(
            {s->file, s->line,
             std::string(name) + ": data set type \"" + std::string(prefix) +
                 "\" is not supported by streamguard: only file, refile and csl"});
        return std::nullopt;
      }
    }
    DatasetKind kind = DatasetKind::kCsl;
    std::string_view rest = v;
    if (starts_with(v, "file:")) {
      kind = DatasetKind::kFile;
      rest.remove_prefix(5);
    } else if (starts_with(v, "refile:")) {
      kind = DatasetKind::kRefile;
      rest.remove_prefix(7);
    } else if (starts_with(v, "csl:")) {
      rest.remove_prefix(4);
    } else if (ends_with(v, ".db")) {
      // opendkim(8): a name ending in ".db" is a Sleepycat DB, even a path.
      result_.errors.push_back({s->file, s->line,
                                std::string(name) + ": data set type \"*.db\" (Sleepycat DB, " + v +
                                    ") is not supported by streamguard: only file, refile " +
                                    "and csl"});
      return std::nullopt;
    } else if (starts_with(v, "/")) {
      kind = DatasetKind::kFile;
    }
    Dataset ds;
    if (kind == DatasetKind::kCsl) {
      ds = host_list ? parse_host_list(rest, kind, s->file, result_.errors, s->line)
                     : parse_dataset(rest, kind, s->file, result_.errors, s->line);
    } else {
      std::string path(trim(rest));
      if (path.empty()) {
        result_.errors.push_back({s->file, s->line, std::string(name) + ": no file named"});
        return std::nullopt;
      }
      if (path.front() != '/' && !base_dir_.empty()) path = base_dir_ + "/" + path;
      result_.files.push_back(path);
      std::string err;
      const auto text = read_(path, err);
      if (!text) {
        result_.errors.push_back(
            {s->file, s->line, std::string(name) + ": cannot read " + path + ": " + err});
        return std::nullopt;
      }
      ds = host_list ? parse_host_list(*text, kind, path, result_.errors)
                     : parse_dataset(*text, kind, path, result_.errors);
      ds.path = path;
    }
    ds.spec = v;
    return ds;
  }

  void set_base_dir(std::string dir) {
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    base_dir_ = std::move(dir);
  }

 private:
  const FileReader& read_;
  LoadResult& result_;
  std::vector<ConfSetting> settings_;
  std::vector<std::string> chain_;  // the Include chain being read
  int conf_files_ = 0;
  std::string base_dir_;
};

struct KeyTableValue {
  std::string domain;
  std::string selector;
  std::string key_file;
};

std::optional<KeyTableValue> split_key_value(std::string_view value) {
  const auto c1 = value.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  const auto c2 = value.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return std::nullopt;
  KeyTableValue kv{std::string(trim(value.substr(0, c1))),
                   std::string(trim(value.substr(c1 + 1, c2 - c1 - 1))),
                   std::string(trim(value.substr(c2 + 1)))};
  if (kv.domain.empty() || kv.selector.empty() || kv.key_file.empty()) return std::nullopt;
  return kv;
}

// The SigningTable value's first field: the KeyTable key name.
std::string_view key_name_of(std::string_view value) {
  value = trim(value);
  std::size_t end = 0;
  while (end < value.size() && !is_space(value[end])) ++end;
  return value.substr(0, end);
}

// The SigningTable entry for an address (opendkim.conf(5) SigningTable).
const DatasetEntry* signing_lookup(const Dataset& table, std::string_view local,
                                   std::string_view domain) {
  const std::string user(local);
  const std::string dom(domain);
  if (table.kind == DatasetKind::kRefile) return table.find(user + "@" + dom);
  std::vector<std::string> keys;
  if (!user.empty()) keys.push_back(user + "@" + dom);
  keys.push_back(dom);
  std::vector<std::string> parents;
  for (auto dot = dom.find('.'); dot != std::string::npos; dot = dom.find('.', dot + 1)) {
    parents.push_back(dom.substr(dot));
  }
  if (!user.empty()) {
    for (const auto& p : parents) keys.push_back(user + "@" + p);
  }
  for (const auto& p : parents) keys.push_back(p);
  if (!user.empty()) keys.push_back(user + "@*");
  keys.push_back("*");
  for (const auto& k : keys) {
    if (const auto* e = table.find(k)) return e;
  }
  return nullptr;
}

// Splits a From address into local part and lowercased domain.
std::pair<std::string, std::string> split_address(std::string_view from) {
  from = trim(from);
  if (const auto lt = from.rfind('<'); lt != std::string_view::npos) {
    from = from.substr(lt + 1);
    const auto gt = from.find('>');
    from = trim(from.substr(0, gt));
  }
  const auto at = from.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string_view local = from.substr(0, at);
  std::string dom = lower(trim(from.substr(at + 1)));
  while (!dom.empty() && dom.back() == '.') dom.pop_back();
  if (dom.empty() || dom.front() == '[' || dom.front() == '.') return {};
  for (char c : dom) {
    if (is_space(c) || c == '<' || c == '>' || c == '@' || c == ',' || c == ';') return {};
  }
  return {std::string(trim(local)), dom};
}

std::string strip_braces(std::string_view name) {
  name = trim(name);
  if (name.size() >= 2 && name.front() == '{' && name.back() == '}') {
    name = name.substr(1, name.size() - 2);
  }
  return std::string(name);
}

bool is_tag_name(std::string_view s) {
  if (s.empty()) return false;
  const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(s.front())) return false;
  for (char c : s) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '_') return false;
  }
  return true;
}

std::string normalise_domain(std::string_view d) {
  std::string out = lower(trim(d));
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

bool has_two_labels(std::string_view d) {
  const auto dot = d.find('.');
  return dot != std::string_view::npos && dot > 0 && d.back() != '.';
}

}  // namespace

// ---- public ----------------------------------------------------------------

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
  for (std::size_t i = 0; i < entries.size(); ++i) index_.emplace(lower(entries[i].key), i);
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
  const HostMatch by_ip = match_keys(list, ip_keys(ip));
  if (by_ip.matched) return by_ip;
  const HostMatch by_host = match_keys(list, host_keys(hostname));
  if (by_host.matched) return by_host;
  return by_ip.entry ? by_ip : by_host;
}

std::vector<ConfSetting> parse_conf(std::string_view text, const std::string& file_name,
                                    std::vector<Error>& errors) {
  std::vector<ConfSetting> out;
  for_each_line(text, [&](int number, std::string_view raw) {
    const std::string_view l = uncomment(raw);
    if (l.empty()) return;
    std::size_t end = 0;
    while (end < l.size() && !is_space(l[end])) ++end;
    ConfSetting s;
    s.name = std::string(l.substr(0, end));
    s.value = std::string(trim(l.substr(end)));
    s.file = file_name;
    s.line = number;
    if (s.value.empty()) {
      errors.push_back({file_name, number, s.name + " has no value"});
      return;
    }
    out.push_back(std::move(s));
  });
  return out;
}

LoadResult load_opendkim(const std::string& conf_path) {
  return load_opendkim(conf_path, read_file);
}

LoadResult load_opendkim(const std::string& conf_path, const FileReader& read) {
  LoadResult result;
  Loader loader(read, result);
  loader.read_conf(conf_path, "", 0, 0);
  if (!result.errors.empty()) return result;

  auto cfg = std::make_shared<OpenDkimConfig>();
  cfg->conf_path = conf_path;

  if (const auto* base = loader.get("BaseDirectory")) loader.set_base_dir(base->value);

  if (const auto* mode = loader.get("Mode")) {
    cfg->mode = mode->value;
    cfg->sign = cfg->verify = false;
    for (char c : mode->value) {
      if (c == 's' || c == 'S') {
        cfg->sign = true;
      } else if (c == 'v' || c == 'V') {
        cfg->verify = true;
      } else {
        result.errors.push_back({mode->file, mode->line,
                                 "Mode \"" + mode->value + "\": only \"s\" and \"v\" are modes"});
        break;
      }
    }
  }
  cfg->subdomains = loader.boolean("SubDomains").value_or(false);
  if (const auto* s = loader.get("Selector")) cfg->selector = s->value;
  if (const auto* s = loader.get("KeyFile")) cfg->key_file = s->value;

  cfg->domain = loader.dataset("Domain", false);
  cfg->key_table = loader.dataset("KeyTable", false);
  cfg->signing_table = loader.dataset("SigningTable", false);
  if (auto internal = loader.dataset("InternalHosts", true)) {
    cfg->internal_hosts = std::move(*internal);
    cfg->internal_hosts_default = false;
  } else {
    std::vector<Error> none;
    cfg->internal_hosts = parse_dataset("127.0.0.1,::1", DatasetKind::kCsl, "default", none);
    cfg->internal_hosts.spec = std::string(kDefaultInternalSpec);
  }
  cfg->external_ignore_list = loader.dataset("ExternalIgnoreList", true);
  cfg->peer_list = loader.dataset("PeerList", true);
  cfg->mta = loader.dataset("MTA", false);
  cfg->macro_list = loader.dataset("MacroList", false);

  // KeyTable values, and every key name the SigningTable refers to.
  if (cfg->key_table) {
    for (const auto& e : cfg->key_table->entries) {
      if (!split_key_value(e.value)) {
        result.errors.push_back({e.file, e.line,
                                 "KeyTable entry " + e.key +
                                     ": expected domain:selector:keyfile, got \"" + e.value +
                                     "\""});
      }
    }
  }
  if (cfg->signing_table) {
    for (const auto& e : cfg->signing_table->entries) {
      const std::string_view name = key_name_of(e.value);
      if (name.empty()) {
        result.errors.push_back(
            {e.file, e.line, "SigningTable entry " + e.key + " names no KeyTable key"});
      } else if (cfg->key_table && name != "%" && !cfg->key_table->find(name)) {
        result.errors.push_back({e.file, e.line,
                                 "SigningTable entry " + e.key + " names key " + std::string(name) +
                                     ", which is not in the KeyTable (" + cfg->key_table->spec +
                                     ")"});
      }
    }
  }

  // Files read for data sets were appended by the loader.
  cfg->files = result.files;
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

std::string from_domain(std::string_view from_address) {
  return split_address(from_address).second;
}

Prediction predict_signing(const OpenDkimConfig& config, const ClientInfo& client,
                           std::string_view from_address) {
  Prediction p;
  std::vector<std::string> lacks;
  std::string who = "client " + client.ip;
  if (const auto h = trim(client.hostname); !h.empty() && h != "unknown") {
    who += " (" + std::string(h) + ")";
  }

  if (config.peer_list) {
    const auto m = match_host(*config.peer_list, client.ip, client.hostname);
    if (m.matched) {
      lacks.push_back(who + " is in OpenDKIM's PeerList (" + config.peer_list->spec + ", " +
                      m.entry->key + " at " + where(*m.entry) +
                      "): OpenDKIM does not process its mail at all");
    }
  }
  if (!config.sign) {
    lacks.push_back("OpenDKIM Mode is \"" + config.mode + "\": it only verifies");
  }

  // The origin: authenticated, internal, MTA or MacroList.
  std::string origin;
  const auto internal = match_host(config.internal_hosts, client.ip, client.hostname);
  if (client.authenticated) {
    origin = "the client authenticated";
  } else if (internal.matched) {
    origin = who + " is in InternalHosts (" + internal.entry->key + " at " +
             where(*internal.entry) + ")";
  } else if (config.mta && !client.daemon_name.empty() && config.mta->find(client.daemon_name)) {
    origin = "daemon " + client.daemon_name + " is in MTA (" + config.mta->spec + ")";
  } else if (config.macro_list) {
    for (const auto& e : config.macro_list->entries) {
      const std::string name = strip_braces(e.key);
      auto it = client.macros.find(name);
      if (it == client.macros.end()) it = client.macros.find("{" + name + "}");
      if (it == client.macros.end() || it->second.empty()) continue;
      bool ok = e.value.empty();
      std::string_view values = e.value;
      while (!ok && !values.empty()) {
        const auto bar = values.find('|');
        ok = trim(values.substr(0, bar)) == it->second;
        values = bar == std::string_view::npos ? std::string_view{} : values.substr(bar + 1);
      }
      if (ok) {
        origin = "macro " + name + "=" + it->second + " matches MacroList (" + where(e) + ")";
        break;
      }
    }
  }
  if (origin.empty()) {
    std::string why = who + " is not in OpenDKIM's InternalHosts (" + config.internal_hosts.spec;
    if (internal.entry)
      why += "; excluded by " + internal.entry->key + " at " + where(*internal.entry);
    why += ") and did not authenticate";
    if (config.mta) why += ", nor came in on a daemon named in MTA (" + config.mta->spec + ")";
    if (config.macro_list)
      why += ", nor set a macro MacroList (" + config.macro_list->spec + ") asks for";
    lacks.push_back(why);
  }

  // The key.
  const auto [local, domain] = split_address(from_address);
  std::string key_how;
  if (domain.empty()) {
    lacks.push_back("From address \"" + std::string(from_address) + "\" has no domain");
  } else if (config.key_table) {
    if (!config.signing_table) {
      lacks.push_back("OpenDKIM has a KeyTable (" + config.key_table->spec +
                      ") but no SigningTable: it selects no key");
    } else if (const auto* se = signing_lookup(*config.signing_table, local, domain); !se) {
      lacks.push_back("From domain " + domain + " has no SigningTable entry (" +
                      config.signing_table->spec + ")");
    } else {
      std::string name(key_name_of(se->value));
      if (name == "%") name = domain;
      const auto* ke = config.key_table->find(name);
      const auto kv = ke ? split_key_value(ke->value) : std::nullopt;
      if (!kv) {
        lacks.push_back("SigningTable entry " + se->key + " (" + where(*se) + ") names key " +
                        name + ", which is not in the KeyTable (" + config.key_table->spec + ")");
      } else {
        p.key_name = name;
        p.signing_domain = kv->domain == "%" ? domain : lower(kv->domain);
        p.selector = kv->selector;
        key_how = "From " + (local.empty() ? domain : local + "@" + domain) +
                  " matches SigningTable entry " + se->key + " (" + where(*se) + ") -> key " +
                  name + " (" + where(*ke) + ")";
      }
    }
  } else if (config.domain) {
    const DatasetEntry* hit = config.domain->find(domain);
    const DatasetEntry* parent_hit = nullptr;
    for (auto dot = domain.find('.'); !hit && !parent_hit && dot != std::string::npos;
         dot = domain.find('.', dot + 1)) {
      parent_hit = config.domain->find(domain.substr(dot + 1));
    }
    if (parent_hit && config.subdomains) std::swap(hit, parent_hit);
    if (!hit) {
      std::string why =
          "From domain " + domain + " is not in OpenDKIM's Domain (" + config.domain->spec + ")";
      if (parent_hit) why += "; " + parent_hit->key + " is, but SubDomains is off";
      lacks.push_back(why);
    } else if (config.key_file.empty() || config.selector.empty()) {
      lacks.push_back("OpenDKIM's Domain is set but " +
                      std::string(config.key_file.empty() ? "KeyFile" : "Selector") +
                      " is not: it has no key to sign with");
    } else {
      p.signing_domain = domain;
      p.selector = config.selector;
      key_how = "From domain " + domain + " is in Domain (" + hit->key + " at " + where(*hit) +
                "), key " + config.key_file;
    }
  } else if (config.signing_table) {
    lacks.push_back("OpenDKIM has a SigningTable (" + config.signing_table->spec +
                    ") but no KeyTable: it has no keys");
  } else {
    lacks.push_back(
        "OpenDKIM has no signing key: neither KeyTable and SigningTable nor Domain, KeyFile and "
        "Selector are set");
  }

  if (!lacks.empty()) {
    p.will_sign = false;
    p.signing_domain.clear();
    p.selector.clear();
    p.key_name.clear();
    p.reason = join(lacks, "; ");
    return p;
  }
  p.will_sign = true;
  p.reason = "OpenDKIM will sign with d=" + p.signing_domain + " s=" + p.selector + ": " + origin +
             "; " + key_how;
  return p;
}

std::optional<DkimSignature> parse_dkim_signature(std::string_view header_value) {
  DkimSignature sig;
  std::string_view rest = header_value;
  bool last = false;
  while (!last) {
    const auto semi = rest.find(';');
    last = semi == std::string_view::npos;
    const std::string_view spec = trim(rest.substr(0, semi));
    rest = last ? std::string_view{} : rest.substr(semi + 1);
    if (spec.empty()) {
      // Only a trailing ';' may leave an empty tag-spec.
      if (last && !sig.tags.empty()) break;
      return std::nullopt;
    }
    const auto eq = spec.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view name = trim(spec.substr(0, eq));
    if (!is_tag_name(name)) return std::nullopt;
    std::string value;
    for (char c : spec.substr(eq + 1)) {
      if (is_space(c)) continue;
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x21 || u == 0x7F) return std::nullopt;
      value += c;
    }
    if (!sig.tags.emplace(std::string(name), std::move(value)).second) return std::nullopt;
  }
  const auto get = [&](const char* tag) {
    const auto it = sig.tags.find(tag);
    return it == sig.tags.end() ? std::string{} : it->second;
  };
  sig.d = get("d");
  sig.s = get("s");
  sig.i = get("i");
  sig.a = get("a");
  sig.v = get("v");
  if (sig.d.empty() || sig.s.empty()) return std::nullopt;
  return sig;
}

bool aligned(std::string_view d, std::string_view from) {
  const std::string a = normalise_domain(d);
  const std::string b = normalise_domain(from);
  if (a.empty() || b.empty()) return false;
  if (a == b) return true;
  const std::string& shorter = a.size() < b.size() ? a : b;
  const std::string& longer = a.size() < b.size() ? b : a;
  return has_two_labels(shorter) && ends_with(longer, "." + shorter);
}

}  // namespace sg::dkim
