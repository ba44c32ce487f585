// Fuzzes the milter wire protocol: the Splitter, decode() and the
// MacroStore. The first byte picks where the stream is split into two reads
// (so partial packets are reached); the rest is one connection's bytes. The
// seeds are what Postfix sends: negotiation, connect with macros, a message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "formats/milter_protocol.hpp"

namespace {

namespace mp = sg::milter_proto;

// Invariants must hold in every build, so no assert() (NDEBUG would drop it).
void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "milter_protocol_fuzz: invariant broken: %s\n", what);
  std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// Decodes a packet, checks every view points into its data, and re-encodes
// what the encoders can express, which must decode to the same.
void take(const mp::Packet& p, mp::MacroStore& macros) {
  check(p.data.size() + 1 <= mp::kMaxPacket, "packet over the limit");
  std::string error;
  auto cmd = mp::decode(p, error);
  if (!cmd) {
    check(!error.empty(), "malformed packet without an error");
    return;
  }
  if (auto* m = std::get_if<mp::Macros>(&*cmd)) {
    for (const auto& [n, v] : m->pairs) check(inside(n, p.data) && inside(v, p.data), "macro view");
    macros.define(*m);
    if (!m->pairs.empty()) (void)macros.get(m->pairs.back().first);
  } else if (auto* h = std::get_if<mp::Header>(&*cmd)) {
    check(inside(h->name, p.data) && inside(h->value, p.data), "header view");
    if (h->name.find('\0') == std::string_view::npos) {
      std::string out;
      mp::append_add_header(out, h->name, h->value);
      mp::Splitter again;
      again.append(out);
      mp::Packet q;
      check(again.next(q) == mp::SplitStatus::packet, "encoded header does not split");
      check(q.data == p.data, "encoded header differs");
    }
  } else if (auto* c = std::get_if<mp::Connect>(&*cmd)) {
    check(inside(c->hostname, p.data) && inside(c->address, p.data), "connect view");
  } else if (auto* o = std::get_if<mp::OptNeg>(&*cmd)) {
    std::string out;
    mp::append_optneg_reply(out, *o, {{mp::kStageConnect, "{daemon_port}"}});
    check(out.size() == 4 + 1 + 12 + 4 + 14, "optneg reply size");
  } else if (std::holds_alternative<mp::Abort>(*cmd)) {
    macros.forget_message();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = stream.empty() ? 0 : data[0] % (stream.size() + 1);
  mp::Splitter splitter;
  mp::MacroStore macros;
  std::size_t packets = 0;
  for (std::string_view read : {stream.substr(0, cut), stream.substr(cut)}) {
    splitter.append(read);
    mp::Packet p;
    for (;;) {
      const auto status = splitter.next(p);
      if (status == mp::SplitStatus::need_more) {
        check(splitter.buffered() <= stream.size(), "buffered more than was read");
        break;
      }
      if (status == mp::SplitStatus::error) {
        check(!splitter.error().empty(), "error without a message");
        check(splitter.next(p) == mp::SplitStatus::error, "error is not sticky");
        return 0;
      }
      ++packets;
      take(p, macros);
    }
  }
  check(packets * 5 <= stream.size(), "more packets than bytes allow");
  return 0;
}
