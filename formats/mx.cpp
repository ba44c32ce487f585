#include "formats/mx.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace sg {

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

}  // namespace sg
