// The milter wire protocol: splitting a byte stream into packets (whole,
// split across reads, several per read), the limits, decoding each command
// Postfix sends, the macro store, and the replies' bytes.
#include "formats/milter_protocol.hpp"
#include "tests/unit/milter_packets.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <variant>

namespace sg::milter_proto {
namespace {

using namespace std::string_literals;

using testing::be32;
using testing::packet;

// The decoded views point into the packet's data: keep every test's data.
std::string_view kept(const std::string& data) {
  static std::deque<std::string> store;
  return store.emplace_back(data);
}

template <class T>
T decoded(char command, const std::string& data) {
  std::string error;
  auto c = decode(Packet{command, kept(data)}, error);
  EXPECT_TRUE(c) << error;
  if (!c || !std::holds_alternative<T>(*c)) {
    ADD_FAILURE() << "decoded to another command";
    return T{};
  }
  return std::get<T>(*c);
}

std::string error_of(char command, const std::string& data) {
  std::string error;
  auto c = decode(Packet{command, data}, error);
  EXPECT_FALSE(c);
  return error;
}

TEST(MilterSplitter, SeveralPacketsInOneReadAndOneSplitAcrossReads) {
  const std::string stream = packet('L', "From\0a@b\0"s) + packet('N') + packet('B', "body");
  Splitter s;
  s.append(stream.substr(0, 3));
  Packet p;
  EXPECT_EQ(s.next(p), SplitStatus::need_more);
  s.append(stream.substr(3, 20));
  ASSERT_EQ(s.next(p), SplitStatus::packet);
  EXPECT_EQ(p.command, 'L');
  EXPECT_EQ(p.data, "From\0a@b\0"s);
  ASSERT_EQ(s.next(p), SplitStatus::packet);
  EXPECT_EQ(p.command, 'N');
  EXPECT_TRUE(p.data.empty());
  EXPECT_EQ(s.next(p), SplitStatus::need_more);
  s.append(stream.substr(23));
  ASSERT_EQ(s.next(p), SplitStatus::packet);
  EXPECT_EQ(p.command, 'B');
  EXPECT_EQ(p.data, "body");
  EXPECT_EQ(s.next(p), SplitStatus::need_more);
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(MilterSplitter, ByteByByte) {
  const std::string stream = packet('O', be32(6) + be32(0x1ff) + be32(0x1fffff)) + packet('Q');
  Splitter s;
  Packet p;
  int packets = 0;
  for (char c : stream) {
    s.append(std::string(1, c));
    while (s.next(p) == SplitStatus::packet) ++packets;
  }
  EXPECT_EQ(packets, 2);
  EXPECT_EQ(p.command, 'Q');
}

TEST(MilterSplitter, ZeroLengthAndOversizedPacketsAreStickyErrors) {
  Splitter zero;
  zero.append(be32(0) + "O");
  Packet p;
  EXPECT_EQ(zero.next(p), SplitStatus::error);
  EXPECT_NE(zero.error().find("packet length 0"), std::string::npos);
  zero.append(packet('Q'));
  EXPECT_EQ(zero.next(p), SplitStatus::error);

  Splitter big;
  big.append(be32(static_cast<uint32_t>(kMaxPacket + 1)));
  EXPECT_EQ(big.next(p), SplitStatus::error);
  EXPECT_NE(big.error().find("over the limit"), std::string::npos);

  Splitter largest;  // exactly at the limit: waits for the data
  largest.append(be32(static_cast<uint32_t>(kMaxPacket)) + "B");
  EXPECT_EQ(largest.next(p), SplitStatus::need_more);
}

TEST(MilterDecode, OptionNegotiation) {
  auto o = decoded<OptNeg>('O', be32(6) + be32(0x1ff) + be32(0x1fffff));
  EXPECT_EQ(o.version, 6u);
  EXPECT_EQ(o.actions, 0x1ffu);
  EXPECT_EQ(o.protocol, 0x1fffffu);
  EXPECT_NE(error_of('O', be32(6)).find("shorter"), std::string::npos);
}

TEST(MilterDecode, MacrosWithTheirCommand) {
  auto m = decoded<Macros>('D', "C{daemon_port}\0002526\0j\0mx.example\0"s);
  EXPECT_EQ(m.command, 'C');
  ASSERT_EQ(m.pairs.size(), 2u);
  EXPECT_EQ(m.pairs[0].first, "{daemon_port}");
  EXPECT_EQ(m.pairs[0].second, "2526");
  EXPECT_EQ(m.pairs[1].first, "j");
  EXPECT_TRUE(decoded<Macros>('D', "E").pairs.empty());
  EXPECT_FALSE(error_of('D', "Cname\0"s).empty());       // no value
  EXPECT_FALSE(error_of('D', "Cname\0value"s).empty());  // no final NUL
  EXPECT_FALSE(error_of('D', "").empty());               // no command byte
}

TEST(MilterDecode, ConnectInetInet6UnixAndUnknown) {
  auto c4 = decoded<Connect>('C', "localhost\0004\x9c\x40"s + "127.0.0.1\0"s);
  EXPECT_EQ(c4.hostname, "localhost");
  EXPECT_EQ(c4.family, kFamilyInet);
  EXPECT_EQ(c4.port, 40000);
  EXPECT_EQ(c4.address, "127.0.0.1");
  auto c6 = decoded<Connect>('C', "[::1]\0006\0\x19"s + "::1\0"s);
  EXPECT_EQ(c6.family, kFamilyInet6);
  EXPECT_EQ(c6.port, 25);
  EXPECT_EQ(c6.address, "::1");
  auto cl = decoded<Connect>('C', "localhost\0L\0\0/run/x.sock\0"s);
  EXPECT_EQ(cl.address, "/run/x.sock");
  auto cu = decoded<Connect>('C', "unknown\0U"s);
  EXPECT_EQ(cu.family, kFamilyUnknown);
  EXPECT_TRUE(cu.address.empty());
  EXPECT_FALSE(error_of('C', "host\0004\x9c"s).empty());              // no port
  EXPECT_FALSE(error_of('C', "host\0X\0\0a\0"s).empty());             // bad family
  EXPECT_FALSE(error_of('C', "host\0004\0\0"s + "1.2.3.4").empty());  // no NUL
}

TEST(MilterDecode, EnvelopeHeaderBodyAndTheRest) {
  auto mail = decoded<Mail>('M', "<news@send.example.com>\0SIZE=4096\0"s);
  ASSERT_EQ(mail.args.size(), 2u);
  EXPECT_EQ(mail.args[0], "<news@send.example.com>");
  EXPECT_EQ(decoded<Rcpt>('R', "<a@b>\0"s).args[0], "<a@b>");
  EXPECT_EQ(decoded<Helo>('H', "client.example\0"s).name, "client.example");
  auto h = decoded<Header>('L', "Subject\0\0"s);
  EXPECT_EQ(h.name, "Subject");
  EXPECT_EQ(h.value, "");
  EXPECT_EQ(decoded<Body>('B', "line\r\n").chunk, "line\r\n");
  EXPECT_EQ(decoded<EndOfBody>('E', "").chunk, "");
  EXPECT_EQ(decoded<Unknown>('U', "XYZZY\0"s).command, "XYZZY");
  decoded<DataCmd>('T', "");
  decoded<EndOfHeaders>('N', "");
  decoded<Abort>('A', "");
  decoded<Quit>('Q', "");
  decoded<QuitNewConnection>('K', "");
  EXPECT_FALSE(error_of('L', "Subject\0"s).empty());  // no value
  EXPECT_FALSE(error_of('M', "").empty());
  EXPECT_NE(error_of('z', "").find("unknown command"), std::string::npos);
}

TEST(MilterMacroStore, BracesOptionalNewestWinsMessageMacrosForgotten) {
  MacroStore m;
  m.define(decoded<Macros>('D', "C{daemon_port}\0002526\0j\0mx\0"s));
  m.define(decoded<Macros>('D', "M{i}\0ABC\0"s));
  EXPECT_EQ(m.get("{daemon_port}"), "2526");
  EXPECT_EQ(m.get("daemon_port"), "2526");
  EXPECT_EQ(m.get("i"), "ABC");
  EXPECT_EQ(m.get("{j}"), "mx");
  EXPECT_EQ(m.get("{auth_authen}"), "");
  m.define(decoded<Macros>('D', "Ei\0DEF\0"s));
  EXPECT_EQ(m.get("i"), "DEF");
  m.forget_message();
  EXPECT_EQ(m.get("i"), "");
  EXPECT_EQ(m.get("{daemon_port}"), "2526");
  m.define(decoded<Macros>('D', "C{daemon_port}\0002525\0"s));  // replaces connect's set
  EXPECT_EQ(m.get("{daemon_port}"), "2525");
  EXPECT_EQ(m.get("j"), "");
}

TEST(MilterEncode, RepliesAsPostfixReadsThem) {
  std::string out;
  append_packet(out, kContinue);
  EXPECT_EQ(out, be32(1) + "c");
  out.clear();
  append_reply_code(out, "451", "4.7.0", "streamguard: no");
  EXPECT_EQ(out, packet('y', "451 4.7.0 streamguard: no\0"s));
  out.clear();
  append_add_header(out, "X-Streamguard-Stream", "healthcare");
  EXPECT_EQ(out, packet('h', "X-Streamguard-Stream\0healthcare\0"s));
  out.clear();
  append_optneg_reply(out, {6, kActAddHeaders, kNoHelo | kNoReplyBody},
                      {{kStageConnect, "{daemon_port} j"}, {kStageMail, "i"}});
  EXPECT_EQ(out, packet('O', be32(6) + be32(1) + be32(0x80002) + be32(0) + "{daemon_port} j\0"s +
                                 be32(2) + "i\0"s));
}

}  // namespace
}  // namespace sg::milter_proto
