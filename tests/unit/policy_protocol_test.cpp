#include "formats/policy_protocol.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace sg::policy {

// Found by ADL so failures print "error" rather than raw bytes; static because
// every test file is linked into one binary.
static void PrintTo(ParseStatus status, std::ostream* os) {
  switch (status) {
    case ParseStatus::need_more:
      *os << "need_more";
      return;
    case ParseStatus::complete:
      *os << "complete";
      return;
    case ParseStatus::error:
      *os << "error";
      return;
  }
}

namespace {

using Attrs = std::vector<std::pair<std::string, std::string>>;

// A second-recipient RCPT check over STARTTLS (the queue file is open, so
// queue_id is set), with every attribute in the order smtpd sends them.
// compatibility_level and mail_version are listed in SMTPD_POLICY_README
// under "3.8 and later"; they are kept so the parser is known to take them.
const Attrs kRcptAttrs = {
    {"request", "smtpd_access_policy"},
    {"protocol_state", "RCPT"},
    {"protocol_name", "ESMTP"},
    {"helo_name", "mail-wr1-f54.google.com"},
    {"queue_id", "4QxY3z1AbCz"},
    {"sender", "someone@gmail.com"},
    {"recipient", "dr.smith@clinic-example.com"},
    {"recipient_count", "1"},
    {"client_address", "172.18.0.5"},
    {"client_name", "mail-wr1-f54.google.com"},
    {"reverse_client_name", "mail-wr1-f54.google.com"},
    {"instance", "2f3a.6650c1d2.9b1e4.0"},
    {"sasl_method", ""},
    {"sasl_username", ""},
    {"sasl_sender", ""},
    {"size", "48213"},
    {"ccert_subject", ""},
    {"ccert_issuer", ""},
    {"ccert_fingerprint", ""},
    {"ccert_pubkey_fingerprint", ""},
    {"encryption_protocol", "TLSv1.3"},
    {"encryption_cipher", "TLS_AES_256_GCM_SHA384"},
    {"encryption_keysize", "256"},
    {"etrn_domain", ""},
    {"stress", ""},
    {"server_address", "172.18.0.2"},
    {"server_port", "25"},
    {"policy_context", ""},
    {"compatibility_level", "3.6"},
    {"mail_version", "3.7.11"},
    {"client_port", "41862"},
};

std::string wire(const Attrs& attrs) {
  std::string out;
  for (const auto& [name, value] : attrs) out += name + "=" + value + "\n";
  return out + "\n";
}

const std::string kRcptWire = wire(kRcptAttrs);

struct Outcome {
  std::vector<Request> requests;
  ParseStatus last = ParseStatus::need_more;
  std::string error;
};

// Feeds `data` in pieces of `chunk` bytes, taking every completed request, the
// way a connection handler would.
Outcome feed_in_chunks(PolicyParser& parser, std::string_view data, std::size_t chunk) {
  Outcome out;
  while (!data.empty()) {
    std::string_view piece = data.substr(0, chunk);
    data.remove_prefix(piece.size());
    while (!piece.empty()) {
      std::size_t used = 0;
      out.last = parser.feed(piece, used);
      piece.remove_prefix(used);
      if (out.last == ParseStatus::error) {
        out.error = parser.error();
        return out;
      }
      if (out.last == ParseStatus::complete) out.requests.push_back(parser.take());
    }
  }
  return out;
}

Outcome feed_all(std::string_view data, Limits limits = {}) {
  PolicyParser parser(limits);
  return feed_in_chunks(parser, data, data.size() + 1);
}

std::string error_of(std::string_view data, Limits limits = {}) {
  Outcome out = feed_all(data, limits);
  EXPECT_EQ(out.last, ParseStatus::error) << "input parsed without error";
  return out.error;
}

TEST(PolicyParser, ParsesAFullPostfixRcptRequest) {
  PolicyParser parser;
  std::size_t used = 0;
  ASSERT_EQ(parser.feed(kRcptWire, used), ParseStatus::complete) << parser.error();
  EXPECT_EQ(used, kRcptWire.size());
  Request request = parser.take();
  EXPECT_EQ(request.attributes(), kRcptAttrs);
  for (const auto& [name, value] : kRcptAttrs) {
    EXPECT_TRUE(request.has(name)) << name;
    EXPECT_EQ(request.get(name), value) << name;
  }
}

TEST(PolicyParser, ByteAtATimeCompletesOnTheLastByte) {
  PolicyParser parser;
  for (std::size_t i = 0; i + 1 < kRcptWire.size(); ++i) {
    std::size_t used = 0;
    ASSERT_EQ(parser.feed(kRcptWire.substr(i, 1), used), ParseStatus::need_more) << "byte " << i;
    ASSERT_EQ(used, 1u);
  }
  std::size_t used = 0;
  ASSERT_EQ(parser.feed(kRcptWire.substr(kRcptWire.size() - 1), used), ParseStatus::complete);
  EXPECT_EQ(used, 1u);
  EXPECT_EQ(parser.take().attributes(), kRcptAttrs);
}

TEST(PolicyParser, EveryChunkSizeGivesTheSameRequests) {
  const std::string two = kRcptWire + "request=smtpd_access_policy\nprotocol_state=VRFY\n\n";
  for (std::size_t chunk : {1u, 2u, 3u, 7u, 64u, 4096u}) {
    PolicyParser parser;
    Outcome out = feed_in_chunks(parser, two, chunk);
    ASSERT_EQ(out.requests.size(), 2u) << "chunk " << chunk;
    EXPECT_EQ(out.requests[0].attributes(), kRcptAttrs);
    EXPECT_EQ(out.requests[1].get("protocol_state"), "VRFY");
  }
}

TEST(PolicyParser, TwoRequestsInOneBufferStopAfterTheFirst) {
  const std::string second = "request=smtpd_access_policy\nprotocol_state=END-OF-MESSAGE\n\n";
  const std::string both = kRcptWire + second;
  PolicyParser parser;
  std::size_t used = 0;
  ASSERT_EQ(parser.feed(both, used), ParseStatus::complete);
  EXPECT_EQ(used, kRcptWire.size());
  EXPECT_EQ(parser.take().get("protocol_state"), "RCPT");

  ASSERT_EQ(parser.feed(std::string_view(both).substr(used), used), ParseStatus::complete);
  EXPECT_EQ(used, second.size());
  Request request = parser.take();
  EXPECT_EQ(request.get("protocol_state"), "END-OF-MESSAGE");
  EXPECT_EQ(request.attributes().size(), 2u);  // nothing left over from the first
}

TEST(PolicyParser, SecondRequestMaySpanFeeds) {
  PolicyParser parser;
  std::size_t used = 0;
  const std::string first_and_half = "a=1\n\nb=2\nc=";
  ASSERT_EQ(parser.feed(first_and_half, used), ParseStatus::complete);
  ASSERT_EQ(used, 5u);
  EXPECT_EQ(parser.take().get("a"), "1");
  ASSERT_EQ(parser.feed(std::string_view(first_and_half).substr(used), used),
            ParseStatus::need_more);
  EXPECT_EQ(used, first_and_half.size() - 5);
  ASSERT_EQ(parser.feed("3\n\n", used), ParseStatus::complete);
  EXPECT_EQ(parser.take().attributes(), (Attrs{{"b", "2"}, {"c", "3"}}));
}

TEST(PolicyParser, FeedBeforeTakeConsumesNothing) {
  PolicyParser parser;
  std::size_t used = 0;
  ASSERT_EQ(parser.feed("a=1\n\n", used), ParseStatus::complete);
  EXPECT_EQ(parser.feed("b=2\n\n", used), ParseStatus::complete);
  EXPECT_EQ(used, 0u);
  EXPECT_EQ(parser.take().attributes(), (Attrs{{"a", "1"}}));
}

TEST(PolicyParser, TakeWithoutACompleteRequestIsEmpty) {
  PolicyParser parser;
  std::size_t used = 0;
  ASSERT_EQ(parser.feed("a=1\n", used), ParseStatus::need_more);
  EXPECT_TRUE(parser.take().attributes().empty());
  ASSERT_EQ(parser.feed("\n", used), ParseStatus::complete);
  EXPECT_EQ(parser.take().get("a"), "1");
}

TEST(PolicyParser, EmptyInputNeedsMore) {
  PolicyParser parser;
  std::size_t used = 7;
  EXPECT_EQ(parser.feed("", used), ParseStatus::need_more);
  EXPECT_EQ(used, 0u);
}

TEST(PolicyParser, ValueMayBeEmptyOrContainEquals) {
  Outcome out = feed_all("sasl_sender=\nccert_subject=CN=a=b\n\n");
  ASSERT_EQ(out.last, ParseStatus::complete) << out.error;
  ASSERT_EQ(out.requests.size(), 1u);
  const Request& request = out.requests[0];
  EXPECT_TRUE(request.has("sasl_sender"));
  EXPECT_EQ(request.get("sasl_sender"), "");
  EXPECT_EQ(request.get("ccert_subject"), "CN=a=b");
  EXPECT_EQ(request.attributes().size(), 2u);
}

TEST(PolicyParser, LineWithOnlyEqualsHasAnEmptyName) {
  EXPECT_EQ(error_of("a=1\n=x\n\n"), "line 2 has an empty name");
}

TEST(PolicyParser, StripsOneCarriageReturnBeforeNewline) {
  Outcome out = feed_all("request=smtpd_access_policy\r\nsender=a\rb\r\nx=y\r\r\n\r\n");
  ASSERT_EQ(out.requests.size(), 1u) << out.error;
  EXPECT_EQ(out.requests[0].attributes(),
            (Attrs{{"request", "smtpd_access_policy"}, {"sender", "a\rb"}, {"x", "y\r"}}));
}

TEST(PolicyParser, MissingEqualsIsAnError) {
  EXPECT_EQ(error_of("request=smtpd_access_policy\nsender\n\n"), "line 2 has no '='");
}

TEST(PolicyParser, EmptyNameIsAnError) {
  EXPECT_EQ(error_of("=value\n\n"), "line 1 has an empty name");
}

TEST(PolicyParser, NulByteIsAnErrorAnywhere) {
  using namespace std::string_literals;
  for (std::string bad : {"a\0=1\n\n"s, "a=1\0\n\n"s, "a=1\n\0\n"s, "\0"s, "a=\0"s}) {
    EXPECT_EQ(error_of(bad), "NUL byte in request") << ::testing::PrintToString(bad);
  }
}

TEST(PolicyParser, NulIsFoundBeforeTheLineEnds) {
  PolicyParser parser;
  std::size_t used = 0;
  EXPECT_EQ(parser.feed(std::string("sender=a", 8) + '\0', used), ParseStatus::error);
}

TEST(PolicyParser, BareEmptyLineIsAnEmptyRequest) {
  EXPECT_EQ(error_of("\n"), "empty request");
  EXPECT_EQ(error_of("\r\n"), "empty request");
  EXPECT_EQ(error_of("a=1\n\n\n"), "empty request");  // a second, empty request
}

TEST(PolicyParser, RepeatedAttributeIsAnError) {
  EXPECT_EQ(error_of("sender=a\nrecipient=b\nsender=c\n\n"), "attribute 'sender' repeated");
}

TEST(PolicyParser, SameNameInTwoRequestsIsFine) {
  Outcome out = feed_all("sender=a\n\nsender=b\n\n");
  ASSERT_EQ(out.requests.size(), 2u) << out.error;
  EXPECT_EQ(out.requests[1].get("sender"), "b");
}

TEST(PolicyParser, ErrorIsSticky) {
  PolicyParser parser;
  std::size_t used = 0;
  ASSERT_EQ(parser.feed("oops\n", used), ParseStatus::error);
  const std::string first = parser.error();
  EXPECT_EQ(parser.feed("a=1\n\n", used), ParseStatus::error);
  EXPECT_EQ(used, 0u);
  EXPECT_EQ(parser.error(), first);
  EXPECT_EQ(parser.feed("", used), ParseStatus::error);
}

TEST(PolicyParser, DefaultLineLimitIs4096) {
  const std::string at_limit = "x=" + std::string(4094, 'v') + "\n\n";
  EXPECT_EQ(feed_all(at_limit).requests.size(), 1u);
  const std::string over = "x=" + std::string(4095, 'v') + "\n\n";
  EXPECT_EQ(error_of(over), "line longer than 4096 bytes");
}

TEST(PolicyParser, LineLimitExactlyAndOneOver) {
  const Limits limits{.max_line = 8};
  EXPECT_EQ(feed_all("abc=1234\n\n", limits).requests.size(), 1u);
  EXPECT_EQ(feed_all("abc=1234\r\n\r\n", limits).requests.size(), 1u);  // '\r' is not content
  EXPECT_EQ(error_of("abc=12345\n\n", limits), "line longer than 8 bytes");
  EXPECT_EQ(error_of("abc=1234\r\r\n\n", limits), "line longer than 8 bytes");
}

TEST(PolicyParser, OverlongLineFailsBeforeItsNewline) {
  PolicyParser parser(Limits{.max_line = 8});
  std::size_t used = 0;
  ASSERT_EQ(parser.feed("abc=1234", used), ParseStatus::need_more);
  ASSERT_EQ(parser.feed("\r", used), ParseStatus::need_more);  // may be a telnet "\r\n"
  EXPECT_EQ(parser.feed("5", used), ParseStatus::error);
  EXPECT_EQ(parser.error(), "line longer than 8 bytes");
}

TEST(PolicyParser, RequestLimitCountsEveryByte) {
  // "a=1\nb=2\n\n" is 9 bytes, the final empty line included.
  const std::string request = "a=1\nb=2\n\n";
  EXPECT_EQ(feed_all(request, Limits{.max_request = 9}).requests.size(), 1u);
  EXPECT_EQ(error_of(request, Limits{.max_request = 8}), "request larger than 8 bytes");
  EXPECT_EQ(error_of("a=1\r\nb=2\n\n", Limits{.max_request = 9}), "request larger than 9 bytes");
}

TEST(PolicyParser, RequestLimitIsPerRequest) {
  const std::string request = "a=1\nb=2\n\n";
  Outcome out = feed_all(request + request + request, Limits{.max_request = 9});
  EXPECT_EQ(out.requests.size(), 3u) << out.error;
}

TEST(PolicyParser, RequestLimitAppliesAcrossFeeds) {
  PolicyParser parser(Limits{.max_request = 9});
  Outcome out = feed_in_chunks(parser, "a=1\nb=2\nc\n\n", 1);
  EXPECT_EQ(out.error, "request larger than 9 bytes");
}

TEST(PolicyParser, AttributeLimitExactlyAndOneOver) {
  const Limits limits{.max_attributes = 3};
  EXPECT_EQ(feed_all("a=1\nb=2\nc=3\n\n", limits).requests.size(), 1u);
  EXPECT_EQ(error_of("a=1\nb=2\nc=3\nd=4\n\n", limits), "more than 3 attributes");
}

TEST(PolicyParser, DefaultLimitsAcceptTheDocumentedMaxima) {
  std::string many;
  for (int i = 0; i < 128; ++i) many += "n" + std::to_string(i) + "=v\n";
  EXPECT_EQ(feed_all(many + "\n").requests.size(), 1u);
  EXPECT_EQ(error_of(many + "n128=v\n\n"), "more than 128 attributes");

  std::string big;
  for (int i = 0; i < 8; ++i) big += "n" + std::to_string(i) + "=" + std::string(4090, 'v') + "\n";
  big += "z=" + std::string(32768 - big.size() - 4, 'v') + "\n\n";
  ASSERT_EQ(big.size(), 32768u);
  EXPECT_EQ(feed_all(big).requests.size(), 1u);
  EXPECT_EQ(error_of("y=1\n" + big), "request larger than 32768 bytes");
}

TEST(Request, GetAndHasOnAbsentName) {
  Request request;
  request.set("sender", "");
  EXPECT_EQ(request.get("recipient"), "");
  EXPECT_FALSE(request.has("recipient"));
  EXPECT_TRUE(request.has("sender"));
}

TEST(Request, SetReplacesAnExistingValue) {
  Request request;
  request.set("sender", "a@example.com");
  request.set("recipient", "b@example.com");
  request.set("sender", "c@example.com");
  EXPECT_EQ(request.attributes(),
            (Attrs{{"sender", "c@example.com"}, {"recipient", "b@example.com"}}));
}

TEST(EncodeRequest, WritesLinesThenAnEmptyLine) {
  Request request;
  request.set("request", "smtpd_access_policy");
  request.set("sasl_sender", "");
  EXPECT_EQ(encode_request(request), "request=smtpd_access_policy\nsasl_sender=\n\n");
}

TEST(EncodeRequest, RoundTripsThroughTheParser) {
  Request request;
  for (const auto& [name, value] : kRcptAttrs) request.set(name, value);
  request.set("ccert_subject", "CN=mx.example.com,O=Example");
  request.set("odd", "ends in cr\r");
  const std::string encoded = encode_request(request);
  EXPECT_TRUE(encoded.starts_with(kRcptWire.substr(0, 28)));
  Outcome out = feed_all(encoded);
  ASSERT_EQ(out.requests.size(), 1u) << out.error;
  EXPECT_EQ(out.requests[0].attributes(), request.attributes());
}

TEST(EncodeAction, FramesTheAction) {
  EXPECT_EQ(encode_action("DUNNO"), "action=DUNNO\n\n");
  EXPECT_EQ(encode_action(""), "action=\n\n");
}

TEST(EncodeAction, NewlinesCannotBreakTheFraming) {
  EXPECT_EQ(encode_action("DEFER_IF_PERMIT 4.7.1 over\nlimit\r\nsee=x"),
            "action=DEFER_IF_PERMIT 4.7.1 over limit  see=x\n\n");
}

#ifdef SG_SOURCE_DIR
// The fuzz seeds are only useful if they are valid requests the parser takes
// whole; a seed that breaks silently would just fuzz the error path.
TEST(PolicyParser, EverySeedInTheFuzzCorpusParses) {
  const std::filesystem::path dir =
      std::filesystem::path(SG_SOURCE_DIR) / "tests/fuzz/corpus/policy_protocol";
  int seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream file(entry.path(), std::ios::binary);
    const std::string data{std::istreambuf_iterator<char>(file), {}};
    Outcome out = feed_all(data);
    EXPECT_EQ(out.last, ParseStatus::complete) << entry.path() << ": " << out.error;
    for (const Request& request : out.requests) {
      EXPECT_EQ(request.get("request"), "smtpd_access_policy") << entry.path();
    }
    ++seeds;
  }
  EXPECT_GE(seeds, 8);
}
#endif

}  // namespace
}  // namespace sg::policy
