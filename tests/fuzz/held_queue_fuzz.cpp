// libFuzzer target: the held-queue parsers (formats/held_queue.hpp) on the
// whole input and, for postqueue -j, on each of its lines. Traps on a broken
// invariant:
//   - an error is given exactly when nothing is parsed, and it is one short
//     line (no control characters);
//   - a postqueue line longer than kMaxLineBytes (line end aside) is refused;
//     a parsed message has a valid queue id (safe as a command argument), a
//     queue name, at most kMaxRecipients recipients, and comes back the same
//     when written out as JSON and parsed again;
//   - the listing is what its non-blank lines parse to, one error for each
//     refused line, each queue id once (as first listed);
//   - an envelope's content filter, sender and recipients are pieces of the
//     input; its queue name and id are empty or valid; its recipients are
//     the "recipient:" lines at most;
//   - filter_transport gives a piece of its argument without a colon and is
//     idempotent;
//   - parsing is deterministic; nothing throws or reads out of bounds
//     (ASan/UBSan).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "formats/held_queue.hpp"

namespace {

namespace hq = sg::held;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool inside(std::string_view whole, std::string_view part) {
  return part.empty() || whole.find(part) != std::string_view::npos;
}

void check_error(const std::string& error) {
  check(!error.empty() && error.size() <= 300);
  for (char c : error) check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
}

bool same(const hq::QueuedMessage& a, const hq::QueuedMessage& b) {
  if (a.queue_name != b.queue_name || a.queue_id != b.queue_id ||
      a.arrival_time != b.arrival_time || a.message_size != b.message_size ||
      a.forced_expire != b.forced_expire || a.sender != b.sender ||
      a.recipients.size() != b.recipients.size())
    return false;
  for (std::size_t i = 0; i < a.recipients.size(); ++i)
    if (a.recipients[i].address != b.recipients[i].address ||
        a.recipients[i].delay_reason != b.recipients[i].delay_reason)
      return false;
  return true;
}

std::string to_json(const hq::QueuedMessage& m) {
  nlohmann::json j = {{"queue_name", m.queue_name},       {"queue_id", m.queue_id},
                      {"arrival_time", m.arrival_time},   {"message_size", m.message_size},
                      {"forced_expire", m.forced_expire}, {"sender", m.sender}};
  auto& list = j["recipients"] = nlohmann::json::array();
  for (const auto& r : m.recipients) {
    nlohmann::json o = {{"address", r.address}};
    if (!r.delay_reason.empty()) o["delay_reason"] = r.delay_reason;
    list.push_back(std::move(o));
  }
  return j.dump();
}

std::string_view without_line_end(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

void probe_line(std::string_view line) {
  std::string error;
  const auto m = hq::parse_postqueue_line(line, error);
  if (!m) {
    check_error(error);
    return;
  }
  check(error.empty());
  check(without_line_end(line).size() <= hq::kMaxLineBytes);
  check(hq::valid_queue_id(m->queue_id));
  check(!m->queue_name.empty() && m->queue_name.size() <= hq::kMaxQueueNameBytes);
  check(m->recipients.size() <= hq::kMaxRecipients);

  std::string again_error;
  const auto again = hq::parse_postqueue_line(line, again_error);
  check(again && same(*m, *again));

  std::string text;
  try {
    text = to_json(*m);
  } catch (const std::exception&) {
    check(false);  // every string it returns is valid UTF-8
  }
  const auto round = hq::parse_postqueue_line(text, again_error);
  check(round && same(*m, *round));
}

void probe_listing(std::string_view text) {
  const auto l = hq::parse_postqueue(text);
  std::vector<hq::QueuedMessage> expect;
  std::set<std::string> ids;
  std::size_t refused = 0;
  for (std::string_view rest = text; !rest.empty();) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::string error;
    auto m = hq::parse_postqueue_line(line, error);
    if (!m)
      ++refused;
    else if (ids.insert(m->queue_id).second)
      expect.push_back(std::move(*m));
  }
  check(l.errors.size() == refused && l.messages.size() == expect.size());
  for (std::size_t i = 0; i < expect.size(); ++i) check(same(l.messages[i], expect[i]));
  for (const auto& e : l.errors) check(e.rfind("line ", 0) == 0);
}

void probe_envelope(std::string_view text) {
  std::string error;
  const auto e = hq::parse_postcat_envelope(text, error);
  if (!e) {
    check_error(error);
    return;
  }
  check(error.empty());
  check(inside(text, e->content_filter) && inside(text, e->sender));
  check(e->queue_id.empty() == e->queue_name.empty());
  check(e->queue_id.empty() || (hq::valid_queue_id(e->queue_id) && inside(text, e->queue_id)));
  check(e->recipients.size() <= hq::kMaxRecipients);
  std::size_t recipient_lines = 0;
  for (std::size_t at = 0; (at = text.find("recipient:", at)) != std::string_view::npos; ++at)
    ++recipient_lines;
  check(e->recipients.size() <= recipient_lines);
  for (const auto& r : e->recipients) check(inside(text, r));

  std::string again_error;
  const auto again = hq::parse_postcat_envelope(text, again_error);
  check(again && again->content_filter == e->content_filter && again->sender == e->sender &&
        again->recipients == e->recipients && again->arrival_time == e->arrival_time &&
        again->queue_id == e->queue_id);

  const auto t = hq::filter_transport(e->content_filter);
  check(inside(e->content_filter, t));
}

void probe_transport(std::string_view s) {
  const auto t = hq::filter_transport(s);
  check(t.find(':') == std::string_view::npos && inside(s, t));
  check(t.empty() || (t.data() >= s.data() && t.data() + t.size() <= s.data() + s.size()));
  check(hq::filter_transport(t) == t);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  probe_line(text);
  probe_listing(text);
  probe_envelope(text);
  probe_transport(text);

  std::size_t lines = 0;
  std::string_view rest = text;
  while (!rest.empty() && lines++ < 256) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    probe_line(line);
    probe_transport(line);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }
  return 0;
}
