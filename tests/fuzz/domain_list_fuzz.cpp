// libFuzzer target: DomainList::parse on arbitrary text, matches() on domains
// derived from that text, and recipient_domain() on the input and its lines.
// Traps on a broken invariant:
//   - recipient_domain output is a normalised domain: feeding it back as
//     "x@<domain>" gives the same domain again;
//   - a domain parsed alone as a plain entry matches itself and its
//     subdomains; behind an exception line it matches nothing;
//   - matches() never throws or reads out of bounds (ASan/UBSan).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rules/classifier.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void probe(const sg::DomainList& list, std::string_view candidate) {
  const auto d = sg::recipient_domain(candidate);
  if (!d) return;
  const auto again = sg::recipient_domain("x@" + *d);
  check(again && *again == *d);

  (void)list.matches(*d);

  std::vector<sg::ListError> errors;
  const auto alone = sg::DomainList::parse("#\n" + *d + "\n", "alone", errors);
  // A domain starting with a byte the list syntax reserves ('-') is a parse
  // error; anything recipient_domain accepts otherwise is a valid entry. The
  // comment line first keeps a domain starting with EF BB BF from being read
  // as a byte-order mark.
  if (errors.empty()) {
    check(alone.size() == 1);
    check(alone.matches(*d));
    check(alone.matches("sub." + *d));
    const auto excepted = sg::DomainList::parse("#\n" + *d + "\n!" + *d + "\n", "excepted", errors);
    check(errors.empty());
    check(!excepted.matches(*d));
    check(!excepted.matches("sub." + *d));
  } else {
    check(d->front() == '-');
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  std::vector<sg::ListError> errors;
  const sg::DomainList list = sg::DomainList::parse(text, "fuzz", errors);
  for (const auto& e : errors) check(e.file == "fuzz" && e.line >= 1 && !e.message.empty());

  probe(list, text);

  // Every line, as a recipient and as a bare domain (prefix syntax removed).
  std::size_t lines = 0;
  std::string_view rest = text;
  while (!rest.empty() && lines++ < 64) {
    const auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    probe(list, line);
    while (!line.empty() && (line.front() == '!' || line.front() == '=' || line.front() == '*')) {
      line.remove_prefix(1);
    }
    probe(list, "u@" + std::string(line));
  }

  // The classifier over the fuzzed list, with the input's domain as operator.
  std::map<std::string, sg::DomainList> lists;
  lists.emplace("fuzz", list);
  std::map<std::string, std::vector<std::string>> ops;
  if (auto d = sg::recipient_domain(text)) ops["op"].push_back(*d);
  const sg::Classifier classifier(std::move(lists), ops);
  if (auto d = sg::recipient_domain(text)) {
    const auto c = classifier.classify(*d);
    check(c.domain == *d);
    check(c.op == "op");
    check(c.on("fuzz") == list.matches(*d));
  }
  return 0;
}
