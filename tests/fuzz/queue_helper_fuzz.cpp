// streamguard-queue-helper's request line (read by root from rampd) and its
// result (read by rampd): no crash, and what parses is what encodes back —
// a request accepted is exactly one verb and one queue id.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "formats/queue_helper_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string why;
  if (auto r = sg::queue_helper::parse_request(in, why)) {
    if (!sg::queue_helper::valid_queue_id(r->queue_id)) std::abort();
    std::string line = sg::queue_helper::encode_request(*r);
    std::string_view trimmed = in.ends_with('\n') ? in.substr(0, in.size() - 1) : in;
    if (line != std::string(trimmed) + "\n") std::abort();
  }
  if (auto res = sg::queue_helper::parse_result(in)) {
    if (sg::queue_helper::encode_result(*res) != in) std::abort();
  }
  return 0;
}
