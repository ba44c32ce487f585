// Fuzzes PolicyParser: the bytes after the first are one connection's stream.
// The first byte picks where the stream is split into two reads and whether
// small limits are used, so limit paths are reached with short inputs. The
// seeds are plain requests: their leading 'r' just picks a split near the end.
#include "formats/policy_protocol.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using sg::policy::Limits;
using sg::policy::ParseStatus;
using sg::policy::PolicyParser;
using sg::policy::Request;

// Invariants must hold in every build, so no assert() (NDEBUG would drop it).
void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "policy_protocol_fuzz: invariant broken: %s\n", what);
  std::abort();
}

struct Result {
  std::vector<Request> requests;
  ParseStatus last = ParseStatus::need_more;
};

// Feeds one read the way a connection handler does: take every complete
// request, stop at the first error.
void feed_read(PolicyParser& parser, std::string_view read, Result& result) {
  while (!read.empty() && result.last != ParseStatus::error) {
    std::size_t consumed = 0;
    result.last = parser.feed(read, consumed);
    check(consumed <= read.size(), "consumed more than given");
    read.remove_prefix(consumed);
    if (result.last == ParseStatus::complete) {
      result.requests.push_back(parser.take());
    } else if (result.last == ParseStatus::need_more) {
      check(read.empty(), "need_more left bytes unconsumed");
    } else {
      check(!parser.error().empty(), "error without a message");
      std::size_t again = 0;
      check(parser.feed("a=b\n\n", again) == ParseStatus::error, "error is not sticky");
    }
  }
}

std::vector<std::string_view> bytes_of(std::string_view stream) {
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < stream.size(); ++i) bytes.push_back(stream.substr(i, 1));
  return bytes;
}

Result parse_reads(const std::vector<std::string_view>& reads, const Limits& limits) {
  PolicyParser parser(limits);
  Result result;
  for (std::string_view read : reads) feed_read(parser, read, result);
  return result;
}

void check_request(const Request& request, const Limits& limits) {
  const auto& attrs = request.attributes();
  check(!attrs.empty(), "complete request without attributes");
  check(attrs.size() <= limits.max_attributes, "too many attributes accepted");
  for (std::size_t i = 0; i < attrs.size(); ++i) {
    const auto& [name, value] = attrs[i];
    check(!name.empty(), "empty name accepted");
    check(name.find_first_of(std::string_view("=\n\0", 3)) == std::string::npos, "bad name byte");
    check(value.find_first_of(std::string_view("\n\0", 2)) == std::string::npos, "bad value byte");
    check(name.size() + 1 + value.size() <= limits.max_line, "overlong line accepted");
    check(request.get(name) == value, "get() disagrees with attributes()");
    for (std::size_t j = 0; j < i; ++j) check(attrs[j].first != name, "repeated name accepted");
  }
}

bool same_result(const Result& a, const Result& b) {
  if (a.last != b.last || a.requests.size() != b.requests.size()) return false;
  for (std::size_t i = 0; i < a.requests.size(); ++i) {
    if (a.requests[i].attributes() != b.requests[i].attributes()) return false;
  }
  return true;
}

// encode_request must be the parser's inverse for anything the parser made.
void check_round_trip(const Request& request, const Limits& limits) {
  const std::string encoded = encode_request(request);
  Result again = parse_reads({encoded}, limits);
  check(again.last == ParseStatus::complete, "re-encoded request does not parse");
  check(again.requests.size() == 1, "re-encoded request parses as several");
  check(again.requests[0].attributes() == request.attributes(), "round trip changed attributes");
}

void check_action(std::string_view text) {
  const std::string action = sg::policy::encode_action(text);
  check(action.starts_with("action=") && action.ends_with("\n\n"), "action framing");
  check(action.size() == text.size() + 9, "action text lost or gained bytes");
  std::string_view body(action.data(), action.size() - 2);
  check(body.find_first_of("\r\n") == std::string_view::npos, "newline inside action");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  Limits limits;
  if (control & 0x80) limits = Limits{.max_line = 24, .max_request = 64, .max_attributes = 6};
  const std::size_t split = stream.size() * (control & 0x7f) / 0x7f;

  const Result whole = parse_reads({stream}, limits);
  const Result halves = parse_reads({stream.substr(0, split), stream.substr(split)}, limits);
  const Result bytewise = parse_reads(bytes_of(stream), limits);
  // How reads happen to be cut must never change what is parsed.
  check(same_result(whole, halves), "result depends on the split");
  check(same_result(whole, bytewise), "result differs byte at a time");
  for (const Request& request : whole.requests) {
    check_request(request, limits);
    check_round_trip(request, limits);
  }
  check_action(stream);
  return 0;
}
