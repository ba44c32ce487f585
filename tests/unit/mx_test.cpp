#include "common/dns_server.hpp"
#include "rules/mx_operator.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sg {
namespace {

// Builds DNS responses by hand, the way a server puts them on the wire.
class Msg {
 public:
  explicit Msg(uint16_t rcode = 0, uint16_t extra_flags = 0) {
    u16(0x1234);
    u16(static_cast<uint16_t>(0x8180 | extra_flags | rcode));
    u16(1);  // question
    u16(0);  // answers, patched
    u16(0);  // authority, patched
    u16(0);
    question_at_ = bytes_.size();
    name("example.org");
    u16(15);
    u16(1);
  }
  Msg& mx(uint16_t pref, const std::string& host, uint32_t ttl = 300) {
    record(15, ttl);
    std::size_t len_at = bytes_.size();
    u16(0);
    u16(pref);
    name(host);
    patch(len_at, static_cast<uint16_t>(bytes_.size() - len_at - 2));
    bump(6);
    return *this;
  }
  // An MX whose host is "mx." + a pointer to the question name.
  Msg& mx_compressed(uint16_t pref, uint32_t ttl = 300) {
    record(15, ttl);
    u16(2 + 3 + 2);
    u16(pref);
    bytes_.push_back(2);
    bytes_.push_back('m');
    bytes_.push_back('x');
    u16(static_cast<uint16_t>(0xC000 | question_at_));
    bump(6);
    return *this;
  }
  Msg& cname(const std::string& target, uint32_t ttl) {
    record(5, ttl);
    std::size_t len_at = bytes_.size();
    u16(0);
    name(target);
    patch(len_at, static_cast<uint16_t>(bytes_.size() - len_at - 2));
    bump(6);
    return *this;
  }
  Msg& soa(uint32_t ttl, uint32_t minimum) {
    name("example.org");
    u16(6);
    u16(1);
    u32(ttl);
    std::size_t len_at = bytes_.size();
    u16(0);
    name("ns.example.org");
    name("hostmaster.example.org");
    for (int i = 0; i < 4; ++i) u32(1000);
    u32(minimum);
    patch(len_at, static_cast<uint16_t>(bytes_.size() - len_at - 2));
    bump(8);
    return *this;
  }
  std::vector<uint8_t> bytes() const { return bytes_; }

 private:
  void record(uint16_t type, uint32_t ttl) {
    u16(static_cast<uint16_t>(0xC000 | question_at_));
    u16(type);
    u16(1);
    u32(ttl);
  }
  void name(const std::string& n) {
    std::size_t start = 0;
    while (start < n.size()) {
      auto dot = n.find('.', start);
      if (dot == std::string::npos) dot = n.size();
      bytes_.push_back(static_cast<uint8_t>(dot - start));
      for (std::size_t i = start; i < dot; ++i) bytes_.push_back(static_cast<uint8_t>(n[i]));
      start = dot + 1;
    }
    bytes_.push_back(0);
  }
  void u16(uint16_t v) {
    bytes_.push_back(static_cast<uint8_t>(v >> 8));
    bytes_.push_back(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void patch(std::size_t at, uint16_t v) {
    bytes_[at] = static_cast<uint8_t>(v >> 8);
    bytes_[at + 1] = static_cast<uint8_t>(v);
  }
  void bump(std::size_t count_at) {
    patch(count_at, static_cast<uint16_t>((bytes_[count_at] << 8 | bytes_[count_at + 1]) + 1));
  }
  std::vector<uint8_t> bytes_;
  std::size_t question_at_ = 0;
};

MxResult parse(const std::vector<uint8_t>& b) {
  return parse_mx_response(b);
}

TEST(MxParse, HostsSortedByPreferenceLowercasedWithSmallestTtl) {
  auto r = parse(Msg()
                     .mx(10, "ALT1.ASPMX.L.Google.com", 3600)
                     .mx(1, "aspmx.l.google.com", 300)
                     .mx(10, "alt2.aspmx.l.google.com", 900)
                     .bytes());
  ASSERT_EQ(r.kind, MxResult::Kind::mx) << r.error;
  EXPECT_EQ(r.hosts, (std::vector<std::string>{"aspmx.l.google.com", "alt1.aspmx.l.google.com",
                                               "alt2.aspmx.l.google.com"}));
  ASSERT_TRUE(r.ttl);
  EXPECT_EQ(*r.ttl, 300u);
}

TEST(MxParse, CompressedHostName) {
  auto r = parse(Msg().mx_compressed(5).bytes());
  ASSERT_EQ(r.kind, MxResult::Kind::mx) << r.error;
  EXPECT_EQ(r.hosts, std::vector<std::string>{"mx.example.org"});
}

TEST(MxParse, CnameTtlCounts) {
  auto r = parse(Msg().cname("other.example.net", 60).mx(0, "mx.other.example.net", 600).bytes());
  ASSERT_EQ(r.kind, MxResult::Kind::mx);
  EXPECT_EQ(*r.ttl, 60u);
}

TEST(MxParse, NullMx) {
  auto r = parse(Msg().mx(0, "", 300).bytes());
  EXPECT_EQ(r.kind, MxResult::Kind::null_mx);
  EXPECT_TRUE(r.hosts.empty());
}

TEST(MxParse, NoDataUsesSoaNegativeTtl) {
  auto r = parse(Msg().soa(3600, 120).bytes());
  EXPECT_EQ(r.kind, MxResult::Kind::no_mx);
  ASSERT_TRUE(r.ttl);
  EXPECT_EQ(*r.ttl, 120u);
  auto r2 = parse(Msg().soa(50, 120).bytes());
  EXPECT_EQ(*r2.ttl, 50u);
}

TEST(MxParse, NoDataWithoutSoaHasNoTtl) {
  auto r = parse(Msg().bytes());
  EXPECT_EQ(r.kind, MxResult::Kind::no_mx);
  EXPECT_FALSE(r.ttl);
}

TEST(MxParse, NxdomainWithSoa) {
  auto r = parse(Msg(3).soa(900, 300).bytes());
  EXPECT_EQ(r.kind, MxResult::Kind::nxdomain);
  EXPECT_EQ(*r.ttl, 300u);
}

TEST(MxParse, ServfailRefusedAndOtherCodesAreFailures) {
  auto s = parse(Msg(2).bytes());
  EXPECT_EQ(s.kind, MxResult::Kind::failure);
  EXPECT_EQ(s.error, "SERVFAIL");
  EXPECT_EQ(parse(Msg(5).bytes()).error, "REFUSED");
  EXPECT_EQ(parse(Msg(4).bytes()).error, "DNS error code 4");
}

TEST(MxParse, TruncatedFlagIsAFailure) {
  auto r = parse(Msg(0, 0x0200).mx(1, "mx.example.org").bytes());
  EXPECT_EQ(r.kind, MxResult::Kind::failure);
}

TEST(MxParse, EveryTruncationOfAGoodAnswerFailsCleanly) {
  auto good = Msg().mx(1, "aspmx.l.google.com").mx(5, "alt1.aspmx.l.google.com").bytes();
  for (std::size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = parse(cut);
    EXPECT_EQ(r.kind, MxResult::Kind::failure) << "cut at " << n;
    EXPECT_FALSE(r.error.empty());
  }
}

TEST(MxParse, PointerLoopIsRejected) {
  auto b = Msg().mx_compressed(5).bytes();
  // Point the compressed suffix at itself.
  std::size_t ptr_at = b.size() - 2;
  b[ptr_at] = static_cast<uint8_t>(0xC0 | (ptr_at >> 8));
  b[ptr_at + 1] = static_cast<uint8_t>(ptr_at);
  auto r = parse(b);
  EXPECT_EQ(r.kind, MxResult::Kind::failure);
  EXPECT_NE(r.error.find("loop"), std::string::npos) << r.error;
}

TEST(MxParse, HostWithADotOrControlByteInALabelIsAFailure) {
  // One label "l.google" would read as two: never let it pass for google's.
  auto dotted = parse(Msg().mx(1, "aspmx.l\x01google.com").bytes());
  EXPECT_EQ(dotted.kind, MxResult::Kind::failure);
  auto b = Msg().mx(1, "aspmx.lxgoogle.com").bytes();
  for (auto& byte : b)
    if (byte == 'x') byte = '.';
  auto r = parse(b);
  EXPECT_EQ(r.kind, MxResult::Kind::failure);
  EXPECT_NE(r.error.find("not a letter, digit"), std::string::npos) << r.error;
}

TEST(MxParse, OnlyNullMxRecordsAreANullMx) {
  EXPECT_EQ(parse(Msg().mx(0, "").mx(0, "").bytes()).kind, MxResult::Kind::null_mx);
  auto mixed = parse(Msg().mx(0, "").mx(10, "mx.example.org").bytes());
  EXPECT_EQ(mixed.kind, MxResult::Kind::mx);
  EXPECT_EQ(mixed.hosts, std::vector<std::string>{"mx.example.org"});
}

TEST(MxParse, QueryInsteadOfResponse) {
  auto b = Msg().bytes();
  b[2] &= 0x7F;
  EXPECT_EQ(parse(b).error, "not a response");
}

OperatorConfig op(std::string name, std::vector<std::string> suffixes) {
  OperatorConfig o;
  o.name = std::move(name);
  o.mx_suffixes = std::move(suffixes);
  return o;
}

TEST(MxOperatorMap, AllHostsMustMatchOneOperator) {
  MxOperatorMap m({op("google", {".google.com", "googlemail.com"}),
                   op("microsoft", {".mail.protection.outlook.com"}),
                   op("yahoo", {".yahoodns.net"})});
  EXPECT_EQ(m.operator_for({"aspmx.l.google.com", "alt1.aspmx.l.google.com"}), "google");
  EXPECT_EQ(m.operator_for({"clinic-org.mail.protection.outlook.com"}), "microsoft");
  EXPECT_EQ(m.operator_for({"mta5.am0.yahoodns.net."}), "yahoo");
  // One host elsewhere: not google's alone.
  EXPECT_EQ(m.operator_for({"aspmx.l.google.com", "mx.backup.example.net"}), "");
  // Split between two operators.
  EXPECT_EQ(m.operator_for({"aspmx.l.google.com", "x.mail.protection.outlook.com"}), "");
  EXPECT_EQ(m.operator_for({}), "");
  // A leading-dot suffix needs a label in front; a bare one matches itself too.
  EXPECT_EQ(m.operator_for({"google.com"}), "");
  EXPECT_EQ(m.operator_for({"googlemail.com"}), "google");
  EXPECT_EQ(m.operator_for({"mx.googlemail.com"}), "google");
  // Not a label boundary.
  EXPECT_EQ(m.operator_for({"notgooglemail.com"}), "");
  EXPECT_EQ(m.operator_for({"evilgoogle.com"}), "");
}

TEST(MxOperatorMap, LongestSuffixWins) {
  MxOperatorMap m({op("broad", {".example.net"}), op("narrow", {".mx.example.net"})});
  EXPECT_EQ(m.operator_for({"a.mx.example.net"}), "narrow");
  EXPECT_EQ(m.operator_for({"a.other.example.net"}), "broad");
}

TEST(DnsServer, Forms) {
  std::string err;
  EXPECT_EQ(parse_dns_server("127.0.0.1", err)->to_string(), "127.0.0.1:53");
  EXPECT_EQ(parse_dns_server("127.0.0.1:5353", err)->to_string(), "127.0.0.1:5353");
  EXPECT_EQ(parse_dns_server("::1", err)->to_string(), "[::1]:53");
  EXPECT_EQ(parse_dns_server("[::1]:5353", err)->to_string(), "[::1]:5353");
  EXPECT_FALSE(parse_dns_server("dns.example.com", err));
  EXPECT_NE(err.find("not an IP address"), std::string::npos);
  EXPECT_FALSE(parse_dns_server("127.0.0.1:0", err));
  EXPECT_FALSE(parse_dns_server("127.0.0.1:99999", err));
  EXPECT_FALSE(parse_dns_server("[::1", err));
}

MxResult mx_result(uint32_t ttl) {
  MxResult r;
  r.kind = MxResult::Kind::mx;
  r.hosts = {"mx.example.org"};
  r.ttl = ttl;
  return r;
}

TEST(MxCache, TtlIsClampedAndNegativeAndFailureTtlsApply) {
  DnsConfig cfg;
  cfg.min_ttl_s = 60;
  cfg.max_ttl_s = 3600;
  cfg.negative_ttl_s = 900;
  cfg.failure_ttl_s = 30;
  EXPECT_EQ(MxCache::ttl_for(mx_result(5), cfg), 60u);
  EXPECT_EQ(MxCache::ttl_for(mx_result(600), cfg), 600u);
  EXPECT_EQ(MxCache::ttl_for(mx_result(86400), cfg), 3600u);
  MxResult nx;
  nx.kind = MxResult::Kind::nxdomain;
  EXPECT_EQ(MxCache::ttl_for(nx, cfg), 900u);
  nx.ttl = 120;
  EXPECT_EQ(MxCache::ttl_for(nx, cfg), 120u);
  nx.ttl = 86400;
  EXPECT_EQ(MxCache::ttl_for(nx, cfg), 900u);
  MxResult fail;
  EXPECT_EQ(MxCache::ttl_for(fail, cfg), 30u);
}

TEST(MxCache, ExpiresAtTtl) {
  DnsConfig cfg;
  cfg.min_ttl_s = 1;
  MxCache c(10);
  c.store("a.example", mx_result(120), 1'000'000, cfg);
  ASSERT_NE(c.find("a.example", 1'000'000 + 119'999), nullptr);
  EXPECT_EQ(c.find("a.example", 1'000'000 + 120'000), nullptr);
  EXPECT_EQ(c.size(), 0u);
}

TEST(MxCache, LeastRecentlyUsedIsDropped) {
  DnsConfig cfg;
  MxCache c(2);
  c.store("a", mx_result(600), 0, cfg);
  c.store("b", mx_result(600), 0, cfg);
  ASSERT_NE(c.find("a", 1), nullptr);  // a is now the most recent
  c.store("c", mx_result(600), 2, cfg);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_NE(c.find("a", 3), nullptr);
  EXPECT_EQ(c.find("b", 3), nullptr);
  EXPECT_NE(c.find("c", 3), nullptr);
}

TEST(MxCache, ZeroFailureTtlMeansNotRemembered) {
  DnsConfig cfg;
  cfg.failure_ttl_s = 0;
  MxCache c(10);
  c.store("a", MxResult{}, 0, cfg);
  EXPECT_EQ(c.find("a", 0), nullptr);
}

}  // namespace
}  // namespace sg
