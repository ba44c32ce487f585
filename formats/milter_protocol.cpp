#include "formats/milter_protocol.hpp"

namespace sg::milter_proto {

namespace {

uint32_t get32(std::string_view s, std::size_t at) {
  auto b = [&](std::size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(s[at + i]));
  };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

void put32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xff));
  out.push_back(static_cast<char>((v >> 16) & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

// NUL-terminated strings filling all of `data`; nullopt when the last one
// lacks its NUL.
std::optional<std::vector<std::string_view>> strings(std::string_view data) {
  std::vector<std::string_view> out;
  if (data.empty()) return out;
  if (data.back() != '\0') return std::nullopt;
  while (!data.empty()) {
    auto nul = data.find('\0');
    out.push_back(data.substr(0, nul));
    data.remove_prefix(nul + 1);
  }
  return out;
}

std::string bare(std::string_view name) {
  if (name.size() >= 2 && name.front() == '{' && name.back() == '}')
    name = name.substr(1, name.size() - 2);
  return std::string(name);
}

}  // namespace

// ---------------------------------------------------------------- Splitter

void Splitter::append(std::string_view bytes) {
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {  // drop what was taken before growing
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

SplitStatus Splitter::next(Packet& out) {
  if (!error_.empty()) return SplitStatus::error;
  std::string_view rest(buf_.data() + pos_, buf_.size() - pos_);
  if (rest.size() < 4) return SplitStatus::need_more;
  const uint32_t len = get32(rest, 0);
  if (len == 0 || len > kMaxPacket) {
    error_ = "packet length " + std::to_string(len) +
             (len == 0 ? " (a packet holds at least its command byte)"
                       : " over the limit of " + std::to_string(kMaxPacket));
    return SplitStatus::error;
  }
  if (rest.size() - 4 < len) return SplitStatus::need_more;
  out.command = rest[4];
  out.data = rest.substr(5, len - 1);
  pos_ += 4 + len;
  return SplitStatus::packet;
}

// ---------------------------------------------------------------- decode

namespace {

// SMFIC_MACRO: the command byte the macros are for, then name/value pairs.
std::optional<Macros> decode_macros(std::string_view d, const char*& why) {
  if (d.empty()) {
    why = "no command byte";
    return std::nullopt;
  }
  Macros m;
  m.command = d[0];
  auto s = strings(d.substr(1));
  if (!s || s->size() % 2 != 0) {
    why = !s ? "a string without its NUL" : "a macro name without a value";
    return std::nullopt;
  }
  for (std::size_t i = 0; i < s->size(); i += 2) m.pairs.emplace_back((*s)[i], (*s)[i + 1]);
  return m;
}

// SMFIC_CONNECT: hostname, family, and for a known family the port (network
// order) and the address.
std::optional<Connect> decode_connect(std::string_view d, const char*& why) {
  const auto nul = d.find('\0');
  if (nul == std::string_view::npos || nul + 1 >= d.size()) {
    why = "no hostname or no family";
    return std::nullopt;
  }
  Connect c;
  c.hostname = d.substr(0, nul);
  c.family = d[nul + 1];
  const std::string_view rest = d.substr(nul + 2);
  if (c.family == kFamilyUnknown) return c;
  if (c.family != kFamilyUnix && c.family != kFamilyInet && c.family != kFamilyInet6) {
    why = "unknown address family";
    return std::nullopt;
  }
  if (rest.size() < 2) {
    why = "no port";
    return std::nullopt;
  }
  c.port = static_cast<uint16_t>((static_cast<unsigned char>(rest[0]) << 8) |
                                 static_cast<unsigned char>(rest[1]));
  auto s = strings(rest.substr(2));
  if (!s || s->size() != 1) {
    why = "the address is not one NUL-terminated string";
    return std::nullopt;
  }
  c.address = (*s)[0];
  return c;
}

}  // namespace

std::optional<Command> decode(const Packet& p, std::string& error) {
  const std::string_view d = p.data;
  auto bad = [&](const char* what) -> std::optional<Command> {
    error = std::string("malformed '") + p.command + "' packet: " + what;
    return std::nullopt;
  };
  switch (p.command) {
    case kOptNeg:
      if (d.size() < 12) return bad("shorter than version, actions and protocol");
      return OptNeg{get32(d, 0), get32(d, 4), get32(d, 8)};
    case kMacro: {
      const char* why = nullptr;
      auto m = decode_macros(d, why);
      if (!m) return bad(why);
      return *m;
    }
    case kConnect: {
      const char* why = nullptr;
      auto c = decode_connect(d, why);
      if (!c) return bad(why);
      return *c;
    }
    case kHelo:
    case kUnknown: {
      auto s = strings(d);
      if (!s || s->size() != 1) return bad("not one NUL-terminated string");
      if (p.command == kHelo) return Helo{(*s)[0]};
      return Unknown{(*s)[0]};
    }
    case kMail:
    case kRcpt: {
      auto s = strings(d);
      if (!s || s->empty()) return bad("no NUL-terminated address");
      if (p.command == kMail) return Mail{std::move(*s)};
      return Rcpt{std::move(*s)};
    }
    case kHeader: {
      auto s = strings(d);
      if (!s || s->size() != 2) return bad("not a NUL-terminated name and value");
      return Header{(*s)[0], (*s)[1]};
    }
    case kData:
      return DataCmd{};
    case kEndOfHeaders:
      return EndOfHeaders{};
    case kBody:
      return Body{d};
    case kEndOfBody:
      return EndOfBody{d};
    case kAbort:
      return Abort{};
    case kQuit:
      return Quit{};
    case kQuitNewConnection:
      return QuitNewConnection{};
    default:
      return bad("unknown command");
  }
}

// ---------------------------------------------------------------- MacroStore

void MacroStore::define(const Macros& m) {
  std::vector<std::pair<std::string, std::string>> set;
  set.reserve(m.pairs.size());
  for (const auto& [name, value] : m.pairs) set.emplace_back(bare(name), std::string(value));
  std::erase_if(sets_, [&](const auto& s) { return s.first == m.command; });
  sets_.emplace_back(m.command, std::move(set));
}

std::string MacroStore::get(std::string_view name) const {
  const std::string want = bare(name);
  // The latest definition wins: the newest set is searched first.
  for (auto it = sets_.rbegin(); it != sets_.rend(); ++it)
    for (const auto& [n, v] : it->second)
      if (n == want) return v;
  return "";
}

void MacroStore::forget_message() {
  std::erase_if(sets_, [](const auto& s) { return s.first != kConnect && s.first != kHelo; });
}

// ---------------------------------------------------------------- encode

void append_packet(std::string& out, char command, std::string_view data) {
  put32(out, static_cast<uint32_t>(data.size() + 1));
  out.push_back(command);
  out.append(data);
}

void append_optneg_reply(std::string& out, const OptNeg& reply,
                         const std::vector<std::pair<uint32_t, std::string>>& symbol_lists) {
  std::string data;
  put32(data, reply.version);
  put32(data, reply.actions);
  put32(data, reply.protocol);
  for (const auto& [stage, list] : symbol_lists) {
    put32(data, stage);
    data.append(list);
    data.push_back('\0');
  }
  append_packet(out, kOptNeg, data);
}

void append_reply_code(std::string& out, std::string_view rcode, std::string_view xcode,
                       std::string_view text) {
  std::string data;
  data.reserve(rcode.size() + xcode.size() + text.size() + 3);
  data.append(rcode).append(" ").append(xcode).append(" ").append(text);
  data.push_back('\0');
  append_packet(out, kReplyCode, data);
}

void append_add_header(std::string& out, std::string_view name, std::string_view value) {
  std::string data;
  data.reserve(name.size() + value.size() + 2);
  data.append(name);
  data.push_back('\0');
  data.append(value);
  data.push_back('\0');
  append_packet(out, kAddHeader, data);
}

}  // namespace sg::milter_proto
