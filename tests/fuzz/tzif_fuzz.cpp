// libFuzzer target: tzif::Zone::parse on arbitrary bytes (a zone file is the
// host's, but a damaged or foreign one must not crash rampd). Traps on a
// broken invariant:
//   - a failure always says why;
//   - a zone's offsets are within RFC 8536's range (-89999..93599 s) at any
//     instant, and utc_from_wall() is within a day of its input;
//   - bytes past the file's end change nothing but the footer;
//   - no read outside the input, no allocation the input's size does not
//     justify (ASan/UBSan, libFuzzer's -rss_limit_mb).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/tzif.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto z = sg::tzif::Zone::parse(in, error);
  check(z.has_value() == error.empty());
  if (!z) return 0;
  for (int64_t t : {INT64_C(-4'000'000'000), INT64_C(0), INT64_C(1'795'381'200),
                    INT64_C(4'102'444'800), z->last_transition()}) {
    const int32_t off = z->offset_at(t);
    check(off >= -89999 && off <= 93599);
    if (t > INT64_MIN + 200'000 && t < INT64_MAX - 200'000) {
      const int64_t u = z->utc_from_wall(t);
      check(u >= t - 200'000 && u <= t + 200'000);
    }
  }
  return 0;
}
