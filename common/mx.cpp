#include "common/mx.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace sg {

std::string DnsServer::to_string() const {
  bool v6 = ip.find(':') != std::string::npos;
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

std::optional<DnsServer> parse_dns_server(std::string_view text, std::string& error) {
  DnsServer s;
  std::string_view host = text, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      error = "'" + std::string(text) + "': missing ']'";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        error = "'" + std::string(text) + "': expected ':PORT' after ']'";
        return std::nullopt;
      }
      port = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    auto colon = text.find(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned char buf[16];
  std::string h(host);
  if (inet_pton(AF_INET, h.c_str(), buf) != 1 && inet_pton(AF_INET6, h.c_str(), buf) != 1) {
    error = "'" + std::string(text) + "' is not an IP address (write IP, IP:PORT or [IPv6]:PORT)";
    return std::nullopt;
  }
  s.ip = h;
  if (!port.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc{} || p != port.data() + port.size() || v == 0 || v > 65535) {
      error = "'" + std::string(text) + "': port must be from 1 to 65535";
      return std::nullopt;
    }
    s.port = static_cast<uint16_t>(v);
  }
  return s;
}

const char* to_string(MxResult::Kind k) {
  switch (k) {
    case MxResult::Kind::mx:
      return "mx";
    case MxResult::Kind::null_mx:
      return "null_mx";
    case MxResult::Kind::no_mx:
      return "no_mx";
    case MxResult::Kind::nxdomain:
      return "nxdomain";
    case MxResult::Kind::failure:
      return "failure";
  }
  return "?";
}

namespace {

constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypeSoa = 6;
constexpr uint16_t kTypeMx = 15;
constexpr uint16_t kClassIn = 1;

// Reads the wire format of one response; every read is bounds-checked and
// sets `bad` with a reason instead of reading past the end.
class Wire {
 public:
  explicit Wire(std::span<const uint8_t> msg) : msg_(msg) {}

  bool bad() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  std::size_t pos() const { return pos_; }
  void seek(std::size_t p) { pos_ = p; }

  uint16_t u16() {
    if (!need(2)) return 0;
    uint16_t v = static_cast<uint16_t>(msg_[pos_] << 8 | msg_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t u32() {
    uint32_t hi = u16();
    return hi << 16 | u16();
  }
  void skip(std::size_t n) {
    if (need(n)) pos_ += n;
  }

  // A (possibly compressed) domain name at the current position, lowercase,
  // without the trailing dot; "" for the root. The position moves past the
  // name as it is stored here (a pointer is two bytes). A host name (an MX
  // target) must be letters, digits, '-' and '_' only: a label holding a dot
  // or a control byte would read as another name.
  std::string name(bool host = false) {
    std::string out;
    std::size_t p = pos_;
    bool jumped = false;
    int jumps = 0;
    while (true) {
      if (p >= msg_.size()) return fail("name runs past the end of the message");
      uint8_t len = msg_[p];
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= msg_.size()) return fail("name pointer runs past the end");
        std::size_t target = static_cast<std::size_t>((len & 0x3F) << 8 | msg_[p + 1]);
        if (!jumped) pos_ = p + 2;
        jumped = true;
        // A pointer must point backwards; that alone rules out loops, the
        // count guards the rest.
        if (target >= p || ++jumps > 64) return fail("name compression loop");
        p = target;
        continue;
      }
      if (len & 0xC0) return fail("unknown label type");
      if (len == 0) {
        if (!jumped) pos_ = p + 1;
        return out;
      }
      if (p + 1 + len > msg_.size()) return fail("label runs past the end of the message");
      if (!out.empty()) out += '.';
      for (std::size_t i = 0; i < len; ++i) {
        auto c = static_cast<char>(msg_[p + 1 + i]);
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        bool ldh = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (host && !ldh) return fail("host name holds a byte that is not a letter, digit or '-'");
        out += c;
      }
      if (out.size() > 253) return fail("name longer than 253 characters");
      p += 1 + len;
    }
  }

  std::string fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    pos_ = msg_.size();
    return {};
  }

 private:
  bool need(std::size_t n) {
    if (pos_ + n > msg_.size()) {
      fail("message truncated");
      return false;
    }
    return true;
  }

  std::span<const uint8_t> msg_;
  std::size_t pos_ = 0;
  std::string error_;
};

MxResult failure(std::string why) {
  MxResult r;
  r.kind = MxResult::Kind::failure;
  r.error = std::move(why);
  return r;
}

}  // namespace

namespace {

// The negative TTL of an NXDOMAIN or NODATA answer (RFC 2308): the smaller of
// the authority SOA's own TTL and its MINIMUM field.
std::optional<uint32_t> negative_ttl(Wire& w, uint16_t ns) {
  std::optional<uint32_t> out;
  for (int i = 0; i < ns && !w.bad(); ++i) {
    w.name();
    uint16_t type = w.u16();
    w.u16();
    uint32_t ttl = w.u32();
    uint16_t rdlen = w.u16();
    std::size_t end = w.pos() + rdlen;
    if (type == kTypeSoa && !w.bad()) {
      w.name();    // MNAME
      w.name();    // RNAME
      w.skip(16);  // SERIAL REFRESH RETRY EXPIRE
      uint32_t minimum = w.u32();
      if (!w.bad()) out = std::min(ttl, minimum);
    }
    w.seek(end);
  }
  return out;
}

}  // namespace

MxResult parse_mx_response(std::span<const uint8_t> msg) {
  Wire w(msg);
  w.u16();  // id
  uint16_t flags = w.u16();
  uint16_t qd = w.u16(), an = w.u16(), ns = w.u16();
  w.u16();  // additional
  if (w.bad()) return failure("short DNS header");
  if (!(flags & 0x8000)) return failure("not a response");
  if (flags & 0x0200) return failure("truncated response");
  uint16_t rcode = flags & 0x000F;
  if (rcode == 2) return failure("SERVFAIL");
  if (rcode == 5) return failure("REFUSED");
  if (rcode != 0 && rcode != 3) return failure("DNS error code " + std::to_string(rcode));

  for (int i = 0; i < qd && !w.bad(); ++i) {
    w.name();
    w.skip(4);
  }
  if (w.bad()) return failure("malformed question: " + w.error());

  std::vector<std::pair<uint16_t, std::string>> mx;
  std::optional<uint32_t> min_ttl;
  auto keep_ttl = [&](uint32_t ttl) { min_ttl = min_ttl ? std::min(*min_ttl, ttl) : ttl; };
  for (int i = 0; i < an; ++i) {
    w.name();
    uint16_t type = w.u16(), cls = w.u16();
    uint32_t ttl = w.u32();
    uint16_t rdlen = w.u16();
    std::size_t start = w.pos(), end = start + rdlen;
    if (w.bad() || end > msg.size()) return failure("malformed answer record");
    if (cls == kClassIn && type == kTypeMx) {
      if (rdlen < 3) return failure("MX record too short");
      uint16_t pref = w.u16();
      std::string host = w.name(true);
      if (w.bad()) return failure("malformed MX host: " + w.error());
      if (w.pos() != end) return failure("MX record length does not match its host name");
      mx.emplace_back(pref, std::move(host));
      keep_ttl(ttl);
    } else if (cls == kClassIn && type == kTypeCname) {
      keep_ttl(ttl);
    }
    w.seek(end);
  }

  MxResult r;
  if (rcode == 3 || mx.empty()) {
    r.kind = rcode == 3 ? MxResult::Kind::nxdomain : MxResult::Kind::no_mx;
    r.ttl = negative_ttl(w, ns);
    return r;
  }
  std::stable_sort(mx.begin(), mx.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [pref, host] : mx)
    if (!host.empty()) r.hosts.push_back(std::move(host));
  // "MX 0 ." alone (RFC 7505), or only such records: the domain takes no mail.
  r.kind = r.hosts.empty() ? MxResult::Kind::null_mx : MxResult::Kind::mx;
  r.ttl = min_ttl;
  return r;
}

MxOperatorMap::MxOperatorMap(const std::vector<OperatorConfig>& operators) {
  for (const auto& op : operators)
    for (const auto& s : op.mx_suffixes) {
      std::string suffix = s;
      while (!suffix.empty() && suffix.back() == '.') suffix.pop_back();
      if (!suffix.empty()) suffixes_.emplace_back(std::move(suffix), op.name);
    }
  // Longest first: a more specific suffix wins over a shorter one.
  std::stable_sort(suffixes_.begin(), suffixes_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::string_view MxOperatorMap::match(std::string_view host) const {
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  for (const auto& [suffix, op] : suffixes_) {
    if (suffix.front() == '.') {
      if (host.size() > suffix.size() && host.ends_with(suffix)) return op;
    } else if (host == suffix || (host.size() > suffix.size() && host.ends_with(suffix) &&
                                  host[host.size() - suffix.size() - 1] == '.')) {
      return op;
    }
  }
  return {};
}

std::string MxOperatorMap::operator_for(const std::vector<std::string>& hosts) const {
  std::string_view found;
  for (const auto& h : hosts) {
    auto op = match(h);
    if (op.empty()) return {};
    if (!found.empty() && op != found) return {};
    found = op;
  }
  return std::string(found);
}

const MxCache::Entry* MxCache::find(const std::string& domain, int64_t now_ms) {
  auto it = map_.find(domain);
  if (it == map_.end()) return nullptr;
  if (it->second.entry.expires_ms <= now_ms) {
    lru_.erase(it->second.lru);
    map_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return &it->second.entry;
}

uint32_t MxCache::ttl_for(const MxResult& r, const DnsConfig& cfg) {
  switch (r.kind) {
    case MxResult::Kind::failure:
      return cfg.failure_ttl_s;
    case MxResult::Kind::nxdomain:
    case MxResult::Kind::no_mx:
      return std::min(r.ttl.value_or(cfg.negative_ttl_s), cfg.negative_ttl_s);
    case MxResult::Kind::mx:
    case MxResult::Kind::null_mx:
      break;
  }
  uint32_t ttl = r.ttl.value_or(cfg.min_ttl_s);
  return std::clamp(ttl, cfg.min_ttl_s, cfg.max_ttl_s);
}

void MxCache::store(const std::string& domain, MxResult r, int64_t now_ms, const DnsConfig& cfg) {
  uint32_t ttl = ttl_for(r, cfg);
  if (ttl == 0 || capacity_ == 0) return;
  Entry e{std::move(r), now_ms + static_cast<int64_t>(ttl) * 1000};
  if (auto it = map_.find(domain); it != map_.end()) {
    it->second.entry = std::move(e);
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  while (map_.size() >= capacity_) {
    map_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(domain);
  map_.emplace(domain, Slot{std::move(e), lru_.begin()});
}

void MxCache::clear() {
  map_.clear();
  lru_.clear();
}

}  // namespace sg
