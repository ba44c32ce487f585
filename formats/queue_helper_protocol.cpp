#include "formats/queue_helper_protocol.hpp"

#include <cctype>
#include <charconv>

namespace sg::queue_helper {

namespace {

constexpr std::pair<Verb, std::string_view> kVerbs[] = {
    {Verb::release, "release"}, {Verb::expire, "expire"}, {Verb::envelope, "envelope"}};

// The next space-separated decimal of the result line.
bool take_number(std::string_view& line, long long& out) {
  while (line.starts_with(' ')) line.remove_prefix(1);
  const char* end = line.data() + line.size();
  auto [ptr, ec] = std::from_chars(line.data(), end, out);
  if (ec != std::errc{} || ptr == line.data()) return false;
  line.remove_prefix(static_cast<std::size_t>(ptr - line.data()));
  return true;
}

}  // namespace

bool valid_queue_id(std::string_view id) {
  if (id.size() < 5 || id.size() > 32) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  return true;
}

const char* verb_name(Verb v) {
  for (const auto& [verb, name] : kVerbs)
    if (verb == v) return name.data();
  return "?";
}

std::string encode_request(const Request& r) {
  return std::string(verb_name(r.verb)) + " " + r.queue_id + "\n";
}

std::optional<Request> parse_request(std::string_view line, std::string& error) {
  if (line.ends_with('\n')) line.remove_suffix(1);
  const auto space = line.find(' ');
  if (space == std::string_view::npos) {
    error = "expected 'VERB QUEUEID'";
    return std::nullopt;
  }
  const std::string_view verb = line.substr(0, space), id = line.substr(space + 1);
  std::optional<Verb> v;
  for (const auto& [known, name] : kVerbs)
    if (verb == name) v = known;
  if (!v) {
    error = "unknown verb (release, expire and envelope are served)";
    return std::nullopt;
  }
  if (!valid_queue_id(id)) {
    error = "not a queue id (5 to 32 letters and digits)";
    return std::nullopt;
  }
  return Request{*v, std::string(id)};
}

const char* program_of(Verb v) {
  return v == Verb::envelope ? "postcat" : "postsuper";
}

std::vector<std::string> arguments_of(const Request& r) {
  switch (r.verb) {
    case Verb::release:
      return {"-H", r.queue_id};
    case Verb::expire:
      return {"-f", r.queue_id};
    case Verb::envelope:
      break;
  }
  return {"-e", "-q", r.queue_id};
}

std::string encode_result(const command::Result& r) {
  std::string out = "result " + std::to_string(r.started ? 1 : 0) + " " +
                    std::to_string(r.exit_code) + " " + std::to_string(r.signal) + " " +
                    std::to_string(r.timed_out ? 1 : 0) + " " + std::to_string(r.out.size()) + " " +
                    std::to_string(r.err.size()) + " " + std::to_string(r.error.size()) + "\n";
  return out + r.out + r.err + r.error;
}

std::optional<command::Result> parse_result(std::string_view bytes) {
  const auto nl = bytes.find('\n');
  if (nl == std::string_view::npos || !bytes.starts_with("result ")) return std::nullopt;
  std::string_view line = bytes.substr(7, nl - 7);
  long long f[7];
  for (auto& n : f)
    if (!take_number(line, n)) return std::nullopt;
  if (!line.empty()) return std::nullopt;
  std::string_view body = bytes.substr(nl + 1);
  if ((f[0] != 0 && f[0] != 1) || (f[3] != 0 && f[3] != 1)) return std::nullopt;
  for (int i = 4; i < 7; ++i)  // each within what came, so the sum cannot wrap
    if (f[i] < 0 || static_cast<unsigned long long>(f[i]) > body.size()) return std::nullopt;
  const auto need = static_cast<unsigned long long>(f[4]) + static_cast<unsigned long long>(f[5]) +
                    static_cast<unsigned long long>(f[6]);
  if (need != body.size() || f[1] < -1 || f[1] > 255 || f[2] < 0 || f[2] > 128) return std::nullopt;
  command::Result r;
  r.started = f[0] == 1;
  r.exit_code = static_cast<int>(f[1]);
  r.signal = static_cast<int>(f[2]);
  r.timed_out = f[3] == 1;
  r.out = std::string(body.substr(0, static_cast<std::size_t>(f[4])));
  body.remove_prefix(static_cast<std::size_t>(f[4]));
  r.err = std::string(body.substr(0, static_cast<std::size_t>(f[5])));
  body.remove_prefix(static_cast<std::size_t>(f[5]));
  r.error = std::string(body);
  // One spelling only (no "+1", "01" or double spaces): what rampd reads is
  // exactly what a helper wrote.
  if (encode_result(r) != bytes) return std::nullopt;
  return r;
}

}  // namespace sg::queue_helper
