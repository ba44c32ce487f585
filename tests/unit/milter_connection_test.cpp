// MilterConnection, the Asio engine's per-connection protocol handler: the
// negotiation reply (same flags and symbol lists as the libmilter engine),
// no reply where the no-reply flags were negotiated, and the end-of-message
// answer: the stream header and continue, or the reply code and text.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "milter/milter_connection.hpp"
#include "tests/unit/config_text.hpp"
#include "tests/unit/milter_packets.hpp"

namespace sg {
namespace {

namespace mp = milter_proto;
using namespace std::string_literals;

using testing::be32;
using testing::packet;

void load(MilterDaemon& d) {
  auto cfg = testing::parse_text(R"(
[milter]
opendkim_conf = "/etc/opendkim.conf"
[[stream]]
name = "healthcare"
ports = [2526]
)");
  ASSERT_TRUE(cfg.config) << testing::all_errors(cfg);
  auto rt = std::make_shared<MilterRuntime>();
  rt->config = cfg.config;
  const std::map<std::string, std::string> files = {
      {"/etc/opendkim.conf", "Mode sv\nKeyTable /k\nSigningTable refile:/s\nInternalHosts /h\n"},
      {"/k", "send._domainkey.send.example.com send.example.com:send:/keys/send.private\n"},
      {"/s", "*@send.example.com send._domainkey.send.example.com\n"},
      {"/h", "127.0.0.1\n"}};
  auto o =
      dkim::load_opendkim("/etc/opendkim.conf", [&](const std::string& path, std::string& error) {
        auto it = files.find(path);
        if (it != files.end()) return std::optional(it->second);
        error = "no such file";
        return std::optional<std::string>();
      });
  for (const auto& e : o.errors) ADD_FAILURE() << e.str();
  rt->opendkim = o.config;
  d.runtime.store(rt);
}

// Feeds a byte stream; returns the replies, and whether the connection stays open.
std::string feed(MilterConnection& c, const std::string& bytes, bool& open) {
  mp::Splitter s;
  s.append(bytes);
  std::string out;
  mp::Packet p;
  open = true;
  while (open && s.next(p) == mp::SplitStatus::packet) open = c.handle(p, out);
  return out;
}

const std::string kOptNeg = packet('O', be32(6) + be32(0x1ff) + be32(0x1fffff));

std::string message(const std::string& client, const std::string& from, bool dkim) {
  std::string m = packet('D', "C{daemon_port}\0002526\0"s) +
                  packet('C', "localhost\0004\x9c\x40"s + client + "\0"s) +
                  packet('D', "M{auth_authen}\0\0i\0QID1\0"s) +
                  packet('M', "<bounces@send.example.com>\0"s) +
                  packet('L', "From\0News <"s + from + ">\0"s) +
                  packet('L', "Message-ID\0<1@send.example.com>\0"s) +
                  packet('L', "Content-Type\0text/plain\0"s);
  if (dkim)
    m += packet('L', "DKIM-Signature\0v=1; a=rsa-sha256; d=send.example.com; s=send; b=AAAA\0"s);
  return m + packet('N') + packet('B', "Hello.\r\n") + packet('E');
}

TEST(MilterConnection, NegotiatesLikeTheLibmilterEngine) {
  MilterDaemon d;
  load(d);
  MilterConnection c(d);
  bool open = false;
  const std::string reply = feed(c, kOptNeg, open);
  EXPECT_TRUE(open);
  const uint32_t protocol = mp::kNoHelo | mp::kNoRcpt | mp::kNoUnknown | mp::kNoData |
                            mp::kNoReplyConnect | mp::kNoReplyMail | mp::kNoReplyHeader |
                            mp::kNoReplyEndOfHeaders | mp::kNoReplyBody;
  EXPECT_EQ(reply, packet('O', be32(6) + be32(mp::kActAddHeaders) + be32(protocol) + be32(0) +
                                   kConnectMacros + "\0"s + be32(2) + kMailMacros + "\0"s));
  // An MTA that offers fewer no-reply steps gets replies for the others.
  MilterConnection old(d);
  const std::string r = feed(
      old,
      packet('O', be32(6) + be32(1) + be32(0x3f)) + packet('C', "h\0004\0\0"s + "127.0.0.1\0"s),
      open);
  EXPECT_EQ(r.substr(r.size() - 5), packet('c'));
}

TEST(MilterConnection, OnlyEndOfMessageIsAnsweredWithTheStreamHeader) {
  MilterDaemon d;
  load(d);
  MilterConnection c(d);
  bool open = false;
  feed(c, kOptNeg, open);
  const std::string reply = feed(c, message("127.0.0.1", "news@send.example.com", true), open);
  EXPECT_TRUE(open);
  EXPECT_EQ(reply, packet('h', "X-Streamguard-Stream\0healthcare\0"s) + packet('c'));
  EXPECT_EQ(d.decided.load(), 1u);
  EXPECT_EQ(feed(c, packet('A') + packet('Q'), open), "");
  EXPECT_FALSE(open);
}

TEST(MilterConnection, RefusalIsAReplyCodeWithTheReason) {
  MilterDaemon d;
  load(d);
  MilterConnection c(d);
  bool open = false;
  feed(c, kOptNeg, open);
  const std::string reply = feed(c, message("10.9.9.9", "news@send.example.com", false), open);
  ASSERT_GT(reply.size(), 5u);
  EXPECT_EQ(reply[4], 'y');
  EXPECT_EQ(reply.substr(5, 10), "451 4.7.0 ");
  EXPECT_NE(reply.find("10.9.9.9"), std::string::npos) << reply;
  EXPECT_NE(reply.find("InternalHosts"), std::string::npos) << reply;
  EXPECT_EQ(reply.back(), '\0');
}

TEST(MilterConnection, MalformedPacketClosesTheConnection) {
  MilterDaemon d;
  load(d);
  MilterConnection c(d);
  bool open = true;
  EXPECT_EQ(feed(c, kOptNeg + packet('L', "no NUL"), open).substr(4, 1), "O");
  EXPECT_FALSE(open);
}

TEST(MilterConnection, InetAddressesAreRenderedAsLibmilterDoes) {
  EXPECT_EQ(connect_address({"h", mp::kFamilyInet, 25, "127.0.0.1"}), "127.0.0.1");
  EXPECT_EQ(connect_address({"h", mp::kFamilyInet6, 25, "IPv6:0:0::1"}), "::1");
  EXPECT_EQ(connect_address({"h", mp::kFamilyInet, 25, "not an address"}), "");
  EXPECT_EQ(connect_address({"h", mp::kFamilyUnix, 0, "/run/x"}), "");
}

}  // namespace
}  // namespace sg
