// libFuzzer target: the OpenDKIM configuration readers and the DKIM-Signature
// parser on arbitrary text. Traps on a broken invariant:
//   - every error names a file and a line >= 1 (the text parsers) and says
//     something;
//   - a host list entry that parses cleanly matches what it names (an address,
//     the network address of a CIDR, a hostname, a host under ".domain"), and
//     a "!" copy of it after it excludes that again;
//   - a refile pattern matches its own text, and "*" matches anything;
//   - load_opendkim over in-memory files returns a config exactly when there
//     are no errors, and a prediction always has a reason (and a d= when it
//     signs);
//   - a parsed DKIM-Signature has d= and s=, no whitespace in any value, and
//     reparses to the same tags from its own serialisation; aligned() is
//     symmetric and a domain is aligned with itself.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "formats/opendkim.hpp"

namespace {

namespace dkim = sg::dkim;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_errors(const std::vector<dkim::Error>& errors, std::string_view file) {
  for (const auto& e : errors) {
    check(e.file == file && e.line >= 1 && !e.message.empty());
  }
}

bool is_address(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// One host list entry on its own: when it parses cleanly it matches what it
// names, and "!entry" after it excludes it.
void probe_host_entry(std::string_view line) {
  const auto hash = line.find('#');
  line = line.substr(0, hash);
  // The dataset parser's whitespace (text::is_space): a form feed ends a key too.
  constexpr std::string_view kSpace = " \t\r\f\v";
  while (!line.empty() && kSpace.find(line.front()) != std::string_view::npos)
    line.remove_prefix(1);
  const auto end = line.find_first_of(kSpace);
  const std::string key(line.substr(0, end));
  if (key.empty() || key.front() == '!' || key.front() == '[') return;
  // A client hostname "unknown" is Postfix's "no name", never looked up.
  std::string lowered = key;
  for (char& c : lowered) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lowered == "unknown") return;

  std::vector<dkim::Error> errors;
  const auto one =
      dkim::parse_host_list("#\n" + key + "\n", dkim::DatasetKind::kFile, "one", errors);
  if (!errors.empty()) return;
  check(one.entries.size() == 1);
  std::string ip = "192.0.2.1";
  std::string host;
  const auto slash = key.find('/');
  if (slash != std::string::npos) {
    ip = key.substr(0, slash);
  } else if (is_address(key)) {
    ip = key;
  } else {
    host = key.front() == '.' ? "h" + key : key;
  }
  check(dkim::match_host(one, ip, host).matched);

  const auto both =
      dkim::parse_host_list(key + "\n!" + key + "\n", dkim::DatasetKind::kFile, "both", errors);
  check(errors.empty());
  const auto m = dkim::match_host(both, ip, host);
  check(!m.matched && m.entry && m.entry->key == "!" + key);
}

void probe_signature(std::string_view text) {
  const auto sig = dkim::parse_dkim_signature(text);
  if (!sig) return;
  check(!sig->d.empty() && !sig->s.empty());
  std::string again;
  for (const auto& [tag, value] : sig->tags) {
    for (char c : value) check(c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ';');
    again += tag + "=" + value + "; ";
  }
  const auto re = dkim::parse_dkim_signature(again);
  check(re && re->tags == sig->tags);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // opendkim.conf lines.
  std::vector<dkim::Error> errors;
  const auto settings = dkim::parse_conf(text, "fuzz.conf", errors);
  check_errors(errors, "fuzz.conf");
  for (const auto& s : settings) {
    check(!s.name.empty() && !s.value.empty() && s.line >= 1 && s.file == "fuzz.conf");
    check(s.value.find('#') == std::string::npos);
  }

  // Every data set form over the same text.
  for (auto kind :
       {dkim::DatasetKind::kFile, dkim::DatasetKind::kRefile, dkim::DatasetKind::kCsl}) {
    errors.clear();
    const auto ds = dkim::parse_host_list(text, kind, "fuzz.list", errors, 1);
    check_errors(errors, "fuzz.list");
    for (const auto& e : ds.entries) {
      check(!e.key.empty());
      check(dkim::wildcard_match(e.key, e.key));
      check(dkim::wildcard_match("*", e.key));
      if (kind != dkim::DatasetKind::kRefile) check(ds.find(e.key) != nullptr);
    }
    (void)dkim::match_host(ds, std::string(text.substr(0, 64)), std::string(text.substr(0, 64)));
  }

  // Each line as a lone host list entry.
  std::size_t lines = 0;
  std::string_view rest = text;
  while (!rest.empty() && lines++ < 32) {
    const auto nl = rest.find('\n');
    probe_host_entry(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }

  // The whole loader: the text is opendkim.conf and every file it names.
  const std::string body(text);
  const dkim::FileReader reader = [&](const std::string& path,
                                      std::string& error) -> std::optional<std::string> {
    if (path.find("missing") != std::string::npos) {
      error = "No such file or directory";
      return std::nullopt;
    }
    return body;
  };
  const auto loaded = dkim::load_opendkim("/fuzz/opendkim.conf", reader);
  check((loaded.config != nullptr) == loaded.errors.empty());
  for (const auto& e : loaded.errors) check(!e.file.empty() && !e.message.empty());
  check(!loaded.files.empty() && loaded.files.front() == "/fuzz/opendkim.conf");
  if (loaded.config) {
    dkim::ClientInfo client;
    client.ip = "172.18.0.25";
    client.hostname = std::string(text.substr(0, 32));
    for (std::string_view from : {std::string_view("news@send.example.com"), text.substr(0, 128)}) {
      const auto p = dkim::predict_signing(*loaded.config, client, from);
      check(!p.reason.empty());
      check(!p.will_sign || (!p.signing_domain.empty() && !p.selector.empty()));
    }
  }

  // DKIM-Signature values, and alignment against the text's From domain.
  probe_signature(text);
  if (const auto sig = dkim::parse_dkim_signature(text)) {
    const std::string from = dkim::from_domain(text);
    check(dkim::aligned(sig->d, from) == dkim::aligned(from, sig->d));
    check(from.empty() || dkim::aligned(from, from));
  }
  const std::string from = dkim::from_domain(text);
  if (!from.empty()) {
    check(dkim::aligned(from, from));
    check(dkim::from_domain("x@" + from) == from);
  }
  return 0;
}
