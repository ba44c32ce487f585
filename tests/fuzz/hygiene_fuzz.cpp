// libFuzzer target: the content-hygiene scanner on an arbitrary message
// (header section, empty line, body), plus parse_content_type and
// is_local_domain on pieces of it. Traps on a broken invariant:
//   - the findings do not depend on how the body is chunked: one chunk, two
//     chunks split at a point derived from the data, and chunks of a size
//     derived from the data all give the same findings;
//   - the scanner's buffer stays within the limits whatever the input;
//   - the findings agree with themselves (html_without_text from the counts,
//     domains lowercase, a local Message-ID domain is_local_domain, a
//     problem text exactly when something is wrong);
//   - a parsed Content-Type, written back with quoted values, parses the same;
//   - is_local_domain ignores case;
//   - nothing throws or reads out of bounds (ASan/UBSan).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/hygiene.hpp"

namespace {

namespace hy = sg::hygiene;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr std::size_t kBufferBound =
    hy::kMaxPartHeaderLine + 3 * hy::kMaxHeaderField + hy::kMaxDepth * hy::kMaxBoundaryLength;

// The body after the first `first` bytes in chunks of `chunk` bytes.
hy::Findings scan_chunked(std::string_view message, std::size_t first, std::size_t chunk) {
  hy::MessageScanner scanner;
  std::string_view body = message.substr(hy::feed_headers(scanner, message));
  const std::size_t head = std::min(first, body.size());
  scanner.body(body.substr(0, head));
  check(scanner.buffered_bytes() <= kBufferBound);
  body.remove_prefix(head);
  while (!body.empty()) {
    const std::size_t n = std::min(chunk, body.size());
    scanner.body(body.substr(0, n));
    check(scanner.buffered_bytes() <= kBufferBound);
    body.remove_prefix(n);
  }
  return scanner.finish();
}

bool has_upper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

void check_findings(const hy::Findings& f) {
  check(f.html_without_text == (f.text_html_parts > 0 && f.text_plain_parts == 0));
  check(f.text_plain_parts + f.text_html_parts + f.attachments <= f.parts);
  check(f.truncated == !f.truncated_reason.empty());
  check(!has_upper(f.message_id_domain) && !has_upper(f.from_domain));
  check(!has_upper(f.content_type));
  check(f.message_id_present == !f.message_id_problem.starts_with("message has no"));
  if (f.message_id_present && !f.message_id_domain.empty()) {
    check(f.local_message_id == hy::is_local_domain(f.message_id_domain));
  }
  if (f.message_id_present) check(f.local_message_id == !f.message_id_problem.empty());
  check(f.list_unsubscribe == (f.list_unsubscribe_https || f.list_unsubscribe_mailto));
  check(f.unsubscribe_problem.empty() == (f.list_unsubscribe_https && f.one_click));
  if (!f.from_domain.empty()) {
    check(f.from_address.size() > f.from_domain.size());
    const std::string_view tail =
        std::string_view(f.from_address).substr(f.from_address.size() - f.from_domain.size() - 1);
    check(tail.front() == '@' && upper(tail.substr(1)) == upper(f.from_domain));
  }
  check(f.dkim_signatures.size() <= hy::kMaxDkimSignatures);
  for (const auto& p : f.problems()) check(!p.empty());
}

void check_content_type(std::string_view value) {
  const hy::ContentType ct = hy::parse_content_type(value);
  if (!ct.valid) return;
  check(!ct.type.empty() && !ct.subtype.empty() && !has_upper(ct.type) && !has_upper(ct.subtype));
  std::string again = ct.type + "/" + ct.subtype;
  for (const auto& [name, v] : ct.params) {
    check(!name.empty() && !has_upper(name));
    again += "; " + name + "=\"";
    for (const char c : v) {
      if (c == '"' || c == '\\') again += '\\';
      again += c;
    }
    again += '"';
  }
  const hy::ContentType back = hy::parse_content_type(again);
  check(back.valid && back.type == ct.type && back.subtype == ct.subtype);
  check(back.params == ct.params);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const hy::Findings whole = hy::scan_message(text);
  check_findings(whole);

  // A split point and a chunk size from the data itself.
  std::size_t seed = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(size, 8); ++i) seed = seed * 131 + data[i];
  const std::size_t split = size == 0 ? 0 : seed % (size + 1);
  const std::size_t chunk = 1 + (seed / 7) % 97;
  check(scan_chunked(text, split, std::max<std::size_t>(size, 1)) == whole);
  check(scan_chunked(text, 0, chunk) == whole);
  if (size <= 4096) check(scan_chunked(text, 0, 1) == whole);

  // Each line of the input (up to 64) as a Content-Type and as a domain.
  std::string_view rest = text;
  for (int lines = 0; !rest.empty() && lines < 64; ++lines) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    check_content_type(line);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) check_content_type(line.substr(colon + 1));
    if (line.size() <= 256) {
      check(hy::is_local_domain(line) == hy::is_local_domain(upper(line)));
    }
  }
  return 0;
}
