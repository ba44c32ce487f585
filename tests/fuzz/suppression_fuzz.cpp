// libFuzzer target: suppression records as Redis may hold them (anyone with
// access can write one) and the replies policyd builds from them
// (rules/suppression.hpp). The first byte picks the field's kind, the bytes
// up to the first newline are the field's key, the rest is the record.
// Traps on a broken invariant:
//   - refusal_text() is one line of printable ASCII and starts with the
//     enhanced status of the field's kind (5.1.1 address, 5.1.2 domain);
//   - a record that parses writes back (record_of) to one that parses to the
//     same entry, its text with newlines as spaces;
//   - fields_for() of any address gives its address field then its domain's.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rules/suppression.hpp"

namespace {

namespace sup = sg::suppression;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto nl = in.find('\n');
  const std::string key(in.substr(0, nl));
  const std::string record(nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1));
  const std::string field = (data[0] & 1 ? "d:" : "a:") + key;

  const std::string reply = sup::refusal_text(field, record);
  for (char c : reply) check(c >= 0x20 && c <= 0x7e);
  check(reply.starts_with(data[0] & 1 ? "5.1.2 " : "5.1.1 ") ||
        reply.starts_with("5.1.1 recipient"));

  if (auto e = sup::parse_entry(field, record)) {
    check(!e->key.empty());
    const auto again = sup::parse_entry(field, sup::record_of(*e));
    check(again.has_value());
    check(again->until_ms == e->until_ms && again->learned_ms == e->learned_ms);
    check(again->rule == e->rule && again->stream == e->stream && again->dsn == e->dsn);
    std::string text = e->text;
    for (char& c : text)
      if (c == '\n' || c == '\r') c = ' ';
    check(again->text == text);
  }

  const auto fields = sup::fields_for(key);
  if (!fields.empty()) {
    check(fields.size() == 2);
    check(fields[0].starts_with("a:") && fields[1].starts_with("d:"));
  }
  return 0;
}
