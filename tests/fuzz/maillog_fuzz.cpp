// libFuzzer target: maillog::parse_line on the whole input and on each of
// its lines, the timestamp converters, and the breaker fed the results.
// Traps on a broken invariant:
//   - a line longer than kMaxLineBytes (line end aside) is never a result;
//   - a result's fields are pieces of the line (timestamp, host, syslog name,
//     queue id, recipient, relay, dsn, detail, reply), within their limits;
//   - the reply is inside the detail, and its code is 0 or 200-599 and agrees
//     with the reply's first three bytes;
//   - status names round-trip; service() and program() are pieces of the
//     syslog name; an ISO stamp converts, a syslog stamp converts for any year;
//   - parsing is deterministic and ignores a trailing newline;
//   - the breaker never opens on fewer results than a rule's threshold, and
//     its counts add up to what it was fed;
//   - parse_submission's fields are pieces of the line too, its queue id
//     alphanumeric, its program smtpd or pickup, and a line is never both a
//     submission and a delivery result;
//   - so are parse_milter_refusal's, its queue id never NOQUEUE, its stage
//     upper case, its program cleanup or smtpd; a refusal is neither a
//     submission nor a delivery result;
//   - nothing throws or reads out of bounds (ASan/UBSan).
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "formats/maillog.hpp"
#include "rules/breaker.hpp"

namespace {

namespace ml = sg::maillog;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool inside(std::string_view whole, std::string_view part) {
  return part.empty() || whole.find(part) != std::string_view::npos;
}

void probe(std::string_view line, sg::breaker::Breaker& breaker, std::set<std::string>& streams,
           uint64_t& fed) {
  const auto d = ml::parse_line(line);
  if (line.size() > ml::kMaxLineBytes && line.back() != '\n' && line.back() != '\r') check(!d);
  if (const auto sub = ml::parse_submission(line)) {
    check(!d);
    check(inside(line, sub->timestamp) && inside(line, sub->syslog_name) &&
          inside(line, sub->queue_id) && inside(line, sub->client) && !sub->queue_id.empty());
    for (char c : sub->queue_id) check(std::isalnum(static_cast<unsigned char>(c)));
    check(sub->syslog_name.ends_with(sub->pickup ? "/pickup" : "/smtpd"));
    check(inside(sub->syslog_name, sub->service_name()));
  }
  if (const auto m = ml::parse_milter_refusal(line)) {
    check(!d && !ml::parse_submission(line));
    check(inside(line, m->timestamp) && inside(line, m->syslog_name) && inside(line, m->queue_id) &&
          inside(line, m->stage) && inside(line, m->reply));
    check(!m->queue_id.empty() && m->queue_id != "NOQUEUE" && !m->stage.empty());
    for (char c : m->queue_id) check(std::isalnum(static_cast<unsigned char>(c)));
    for (char c : m->stage) check((c >= 'A' && c <= 'Z') || c == '-');
    check(m->syslog_name.ends_with("/cleanup") || m->syslog_name.ends_with("/smtpd"));
  }
  if (!d) return;

  check(inside(line, d->timestamp) && !d->timestamp.empty());
  check(inside(line, d->host) && !d->host.empty());
  check(inside(line, d->syslog_name) && d->syslog_name.size() <= ml::kMaxSyslogNameBytes);
  check(inside(line, d->queue_id) && !d->queue_id.empty() &&
        d->queue_id.size() <= ml::kMaxQueueIdBytes);
  check(inside(line, d->recipient) && inside(line, d->orig_recipient) && inside(line, d->sender));
  check(inside(line, d->relay) && inside(d->relay, d->relay_host) && inside(d->relay, d->relay_ip));
  check(inside(line, d->dsn) && inside(line, d->detail) && inside(d->detail, d->reply));
  check(d->dsn.empty() || (d->dsn.size() >= 5 && d->dsn[1] == '.'));
  check(d->reply_code == 0 || (d->reply_code >= 200 && d->reply_code <= 599));
  if (d->reply_code != 0) check(d->reply.substr(0, 3) == std::to_string(d->reply_code));
  check(ml::parse_status(ml::to_string(d->status)) == d->status);
  check(inside(d->syslog_name, d->service()) && inside(d->syslog_name, d->program()));
  if (d->iso_timestamp)
    check(ml::iso_time_ms(d->timestamp).has_value());
  else  // "Nov 31" is a well-formed stamp of no date: converting may fail, not crash
    (void)ml::syslog_time_ms(d->timestamp, 2024, 0);

  const auto again = ml::parse_line(std::string(line) + "\n");
  check(again && again->detail == d->detail && again->recipient == d->recipient &&
        again->status == d->status && again->reply_code == d->reply_code);

  sg::breaker::Event e;
  e.time_ms = d->iso_timestamp ? ml::iso_time_ms(d->timestamp).value_or(0) : 0;
  e.stream = std::string(d->service());
  e.op = d->relay_host;
  e.status = d->status;
  e.dsn = d->dsn;
  e.text = d->detail;
  for (const auto& v : breaker.record(e)) {
    check(v.state == sg::breaker::State::open && v.count >= 2 && !v.reason.empty());
    check(v.reason.find(v.rule) != std::string::npos);
  }
  streams.insert(e.stream);
  ++fed;
}

std::vector<sg::BreakerRule> rules() {
  sg::BreakerRule any;
  any.name = "any";
  any.threshold = 2;
  any.window_s = 600;
  any.status = {"sent", "deferred", "bounced", "expired"};
  sg::BreakerRule tss;
  tss.name = "tss04";
  tss.text = {"tss04"};
  tss.dsn = {"4.7"};
  tss.threshold = 3;
  tss.window_s = 60;
  tss.action = sg::BreakerAction::hold;
  tss.cooldown_s = 10;
  tss.recovery_s = 10;
  return {any, tss};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sg::breaker::Breaker breaker(rules(), {.max_keys = 8, .rate_window_s = 60});
  std::set<std::string> streams;
  uint64_t fed = 0;

  probe(text, breaker, streams, fed);
  (void)ml::iso_time_ms(text);
  (void)ml::syslog_time_ms(text, 2026, 3600);

  std::size_t lines = 0;
  std::string_view rest = text;
  while (!rest.empty() && lines++ < 256) {
    const auto nl = rest.find('\n');
    probe(rest.substr(0, nl), breaker, streams, fed);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }

  // Every result is in its stream's totals while the streams fit max_keys.
  if (streams.size() <= 8) {
    uint64_t counted = 0;
    for (const auto& s : streams) counted += breaker.totals(s).total();
    check(counted == fed);
  }
  for (const auto& t : breaker.tripped(0)) check(t.verdict.state != sg::breaker::State::closed);
  return 0;
}
