// libFuzzer target: parse_mx_response on arbitrary bytes, as a DNS server (or
// anyone who can spoof one) could send them. Traps on a broken invariant:
//   - a failure always says why; only a failure says anything in `error`;
//   - MX hosts are lowercase, without a trailing dot, each at most 253
//     characters, and only an mx result has any;
//   - the result does not depend on bytes past the message (parsing a copy
//     with garbage appended to a shorter view gives the same answer);
//   - no read outside the input (ASan/UBSan).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "formats/mx.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto r = sg::parse_mx_response(std::span<const uint8_t>(data, size));
  using K = sg::MxResult::Kind;
  check((r.kind == K::failure) == !r.error.empty());
  check(r.kind == K::mx || r.hosts.empty());
  if (r.kind == K::mx) check(!r.hosts.empty());
  for (const auto& h : r.hosts) {
    check(!h.empty() && h.size() <= 253 && h.back() != '.');
    for (char c : h) check(!(c >= 'A' && c <= 'Z'));
  }
  std::vector<uint8_t> padded(data, data + size);
  padded.insert(padded.end(), {0xC0, 0x0C, 0xFF, 0x00});
  const auto again = sg::parse_mx_response(std::span<const uint8_t>(padded.data(), size));
  check(again.kind == r.kind && again.hosts == r.hosts && again.ttl == r.ttl &&
        again.error == r.error);
  return 0;
}
