#include "formats/maillog.hpp"

#include <array>
#include <charconv>

namespace sg::maillog {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  return true;
}

// A whole unsigned number of at most 9 digits.
std::optional<uint32_t> number(std::string_view s) {
  if (s.empty() || s.size() > 9 || !all_digits(s)) return std::nullopt;
  uint32_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// Takes the text up to the first `sep` off the front of `s`.
std::string_view take_until(std::string_view& s, char sep) {
  auto at = s.find(sep);
  std::string_view head = s.substr(0, at);
  s = at == std::string_view::npos ? std::string_view{} : s.substr(at + 1);
  return head;
}

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int month_index(std::string_view m) {
  for (std::size_t i = 0; i < kMonths.size(); ++i)
    if (kMonths[i] == m) return static_cast<int>(i) + 1;
  return 0;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's method).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return kDays[m - 1];
}

// "HH:MM:SS" -> seconds of the day.
std::optional<int64_t> clock_seconds(std::string_view s) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return std::nullopt;
  auto h = number(s.substr(0, 2)), m = number(s.substr(3, 2)), sec = number(s.substr(6, 2));
  if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 60) return std::nullopt;
  return int64_t{*h} * 3600 + int64_t{*m} * 60 + *sec;
}

// "Nov 22 20:46:16" or "Nov  2 20:46:16": exactly 15 bytes.
bool syslog_stamp(std::string_view s) {
  return s.size() == 15 && month_index(s.substr(0, 3)) != 0 && s[3] == ' ' &&
         (is_digit(s[4]) || s[4] == ' ') && is_digit(s[5]) && s[6] == ' ' &&
         clock_seconds(s.substr(7, 8)).has_value();
}

// The delivery agents whose recipient lines are delivery results.
bool delivery_agent(std::string_view program) {
  for (std::string_view p :
       {"smtp", "lmtp", "local", "virtual", "pipe", "error", "retry", "discard"})
    if (program == p) return true;
  return false;
}

bool valid_queue_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxQueueIdBytes) return false;
  for (char c : id)
    if (!is_alnum(c)) return false;
  return true;
}

// "X.Y.Z": class 2, 4 or 5, subject 1-3 digits, detail 1-3 digits.
bool valid_dsn(std::string_view d) {
  if (d.size() < 5 || (d[0] != '2' && d[0] != '4' && d[0] != '5') || d[1] != '.') return false;
  std::string_view rest = d.substr(2);
  auto dot = rest.find('.');
  if (dot == std::string_view::npos) return false;
  std::string_view subject = rest.substr(0, dot), detail = rest.substr(dot + 1);
  return all_digits(subject) && subject.size() <= 3 && all_digits(detail) && detail.size() <= 3;
}

// "421 4.7.0 ..." / "550-5.7.1 ..." / "250" -> the code; 0 otherwise.
uint16_t smtp_code(std::string_view reply) {
  if (reply.size() < 3 || !all_digits(reply.substr(0, 3))) return 0;
  if (reply.size() > 3 && reply[3] != ' ' && reply[3] != '-') return 0;
  const int code = (reply[0] - '0') * 100 + (reply[1] - '0') * 10 + (reply[2] - '0');
  if (code < 200 || code > 599) return 0;
  return static_cast<uint16_t>(code);
}

// The remote reply inside a status detail.
std::string_view remote_reply(std::string_view detail) {
  std::string_view reply;
  if (smtp_code(detail) != 0) {
    reply = detail;  // status=sent: "250 2.0.0 OK ..."
  } else if (detail.starts_with("host ")) {
    for (std::string_view marker : {" said: ", " refused to talk to me: "}) {
      if (auto at = detail.find(marker); at != std::string_view::npos) {
        reply = detail.substr(at + marker.size());
        break;
      }
    }
  }
  // "... (in reply to RCPT TO command)": the stage, not the reply.
  if (reply.ends_with(" command)")) {
    if (auto at = reply.rfind(" (in reply to "); at != std::string_view::npos)
      reply = reply.substr(0, at);
  }
  return reply;
}

// "name[1.2.3.4]:25" -> name, IP. "none" -> "", "".
void split_relay(std::string_view relay, Delivery& d) {
  if (relay == "none") return;
  auto open = relay.find('[');
  if (open == std::string_view::npos) {
    d.relay_host = std::string(relay);
    return;
  }
  auto close = relay.find(']', open);
  d.relay_host = std::string(relay.substr(0, open));
  if (close != std::string_view::npos)
    d.relay_ip = std::string(relay.substr(open + 1, close - open - 1));
}

// An address value "<...>, ": the text up to the first ">, " outside a
// quoted local part ("a>, b"@example.com is one address).
std::optional<std::string_view> angle_value(std::string_view& rest) {
  if (rest.empty() || rest.front() != '<') return std::nullopt;
  bool quoted = false;
  for (std::size_t i = 1; i < rest.size(); ++i) {
    const char c = rest[i];
    if (quoted && c == '\\') {
      ++i;  // the escaped byte
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == '>' && rest.substr(i).starts_with(">, ")) {
      std::string_view v = rest.substr(1, i - 1);
      rest = rest.substr(i + 3);
      return v;
    }
  }
  return std::nullopt;
}

}  // namespace

const char* to_string(Status s) {
  switch (s) {
    case Status::sent:
      return "sent";
    case Status::deferred:
      return "deferred";
    case Status::bounced:
      return "bounced";
    case Status::expired:
      return "expired";
  }
  return "?";
}

std::optional<Status> parse_status(std::string_view s) {
  if (s == "sent") return Status::sent;
  if (s == "deferred" || s == "SOFTBOUNCE") return Status::deferred;
  if (s == "bounced") return Status::bounced;
  if (s == "expired") return Status::expired;
  return std::nullopt;
}

std::string_view Delivery::service() const {
  std::string_view name = syslog_name;
  auto last = name.rfind('/');
  if (last == std::string_view::npos) return {};
  name = name.substr(0, last);
  auto prev = name.rfind('/');
  if (prev == std::string_view::npos) return {};
  return name.substr(prev + 1);
}

std::string_view Delivery::program() const {
  std::string_view name = syslog_name;
  auto last = name.rfind('/');
  return last == std::string_view::npos ? name : name.substr(last + 1);
}

namespace detail {

// The stamp, the host and "name[pid]: " of a syslog line, into d.
bool read_prefix(std::string_view& rest, Delivery& d) {
  if (rest.size() >= 4 && all_digits(rest.substr(0, 4))) {
    std::string_view stamp = take_until(rest, ' ');
    if (!iso_time_ms(stamp)) return false;
    d.timestamp = std::string(stamp);
    d.iso_timestamp = true;
  } else {
    if (rest.size() < 16 || !syslog_stamp(rest.substr(0, 15)) || rest[15] != ' ') return false;
    d.timestamp = std::string(rest.substr(0, 15));
    rest = rest.substr(16);
  }
  std::string_view host = take_until(rest, ' ');
  if (host.empty()) return false;
  d.host = std::string(host);
  auto open = rest.find('[');
  if (open == std::string_view::npos || open == 0 || open > kMaxSyslogNameBytes) return false;
  std::string_view name = rest.substr(0, open);
  if (name.find(' ') != std::string_view::npos) return false;
  rest = rest.substr(open + 1);
  auto close = rest.find("]: ");
  if (close == std::string_view::npos) return false;
  auto pid = number(rest.substr(0, close));
  if (!pid) return false;
  rest = rest.substr(close + 3);
  d.syslog_name = std::string(name);
  d.pid = *pid;
  return true;
}

}  // namespace detail

namespace {

using detail::read_prefix;

// Which of the once-only fields a line had.
struct Seen {
  bool to = false, from = false, relay = false;
};

// to=, orig_to=, from=: an <address> each, to and from at most once.
bool read_address_field(std::string_view key, std::string_view& rest, Delivery& d, Seen& seen) {
  auto v = angle_value(rest);
  if (!v) return false;
  if ((key == "to" && seen.to) || (key == "from" && seen.from)) return false;
  if (key == "to") {
    d.recipient = std::string(*v);
    seen.to = true;
  } else if (key == "orig_to") {
    d.orig_recipient = std::string(*v);
  } else {
    d.sender = std::string(*v);
    seen.from = true;
  }
  return true;
}

// The "key=value, " fields up to and including "status=", into d.
bool read_fields(std::string_view& rest, Delivery& d, Seen& seen) {
  for (;;) {
    auto eq = rest.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    std::string_view key = rest.substr(0, eq);
    for (char c : key)
      if (!is_alnum(c) && c != '_') return false;
    rest = rest.substr(eq + 1);
    if (key == "status") return true;
    if (key == "to" || key == "orig_to" || key == "from") {
      if (!read_address_field(key, rest, d, seen)) return false;
      continue;
    }
    auto end = rest.find(", ");
    if (end == std::string_view::npos) return false;
    std::string_view value = rest.substr(0, end);
    rest = rest.substr(end + 2);
    if (key == "relay") {
      if (seen.relay) return false;  // Postfix writes each field once
      seen.relay = true;
      d.relay = std::string(value);
      split_relay(value, d);
    } else if (key == "dsn") {
      if (!d.dsn.empty() || !valid_dsn(value)) return false;
      d.dsn = std::string(value);
    }
    // delay, delays, conn_use and fields of later Postfix versions: skipped.
  }
}

// status=WORD, then " (DETAIL)" (a delivery agent) or ", returned to
// sender" (qmgr's expiry line).
bool read_status(std::string_view rest, bool qmgr, const Seen& seen, Delivery& d) {
  std::size_t word_end = 0;
  while (word_end < rest.size() && rest[word_end] != ' ' && rest[word_end] != ',') ++word_end;
  auto status = parse_status(rest.substr(0, word_end));
  if (!status) return false;
  d.status = *status;
  rest = rest.substr(word_end);
  if (qmgr)  // only "from=<...>, status=expired, returned to sender"
    return d.status == Status::expired && seen.from && !seen.to &&
           (rest.empty() || rest.front() == ',');
  if (!seen.to || d.dsn.empty()) return false;
  if (rest.size() < 3 || !rest.starts_with(" (") || rest.back() != ')') return false;
  std::string_view detail = rest.substr(2, rest.size() - 3);
  d.detail = std::string(detail);
  std::string_view reply = remote_reply(detail);
  d.reply = std::string(reply);
  d.reply_code = smtp_code(reply);
  return true;
}

}  // namespace

std::optional<Delivery> parse_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.size() > kMaxLineBytes) return std::nullopt;
  Delivery d;
  std::string_view rest = line;
  if (!read_prefix(rest, d)) return std::nullopt;
  const std::string_view program = d.program();
  const bool qmgr = program == "qmgr";
  if (!qmgr && !delivery_agent(program)) return std::nullopt;
  // "QID: ".
  auto colon = rest.find(": ");
  if (colon == std::string_view::npos || !valid_queue_id(rest.substr(0, colon)))
    return std::nullopt;
  d.queue_id = std::string(rest.substr(0, colon));
  rest = rest.substr(colon + 2);
  Seen seen;
  if (!read_fields(rest, d, seen) || !read_status(rest, qmgr, seen, d)) return std::nullopt;
  return d;
}

std::optional<int64_t> iso_time_ms(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T') return std::nullopt;
  auto y = number(s.substr(0, 4)), mo = number(s.substr(5, 2)), dd = number(s.substr(8, 2));
  auto secs = clock_seconds(s.substr(11, 8));
  if (!y || !mo || !dd || !secs || *mo < 1 || *mo > 12 || *dd < 1 || *dd > days_in_month(*y, *mo))
    return std::nullopt;
  std::string_view rest = s.substr(19);
  int64_t ms = 0;
  if (!rest.empty() && rest.front() == '.') {
    std::size_t n = 1;
    while (n < rest.size() && is_digit(rest[n])) ++n;
    if (n == 1 || n > 10) return std::nullopt;  // 1-9 fraction digits
    std::string_view frac = rest.substr(1, n - 1);
    for (std::size_t i = 0; i < 3; ++i) ms = ms * 10 + (i < frac.size() ? frac[i] - '0' : 0);
    rest = rest.substr(n);
  }
  int64_t offset_s = 0;
  if (rest == "Z") {
    offset_s = 0;
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    auto h = number(rest.substr(1, 2)), m = number(rest.substr(4, 2));
    if (!h || !m || *h > 23 || *m > 59) return std::nullopt;
    offset_s = (rest[0] == '-' ? -1 : 1) * (int64_t{*h} * 3600 + int64_t{*m} * 60);
  } else if (rest.size() == 5 && (rest[0] == '+' || rest[0] == '-')) {
    auto h = number(rest.substr(1, 2)), m = number(rest.substr(3, 2));
    if (!h || !m || *h > 23 || *m > 59) return std::nullopt;
    offset_s = (rest[0] == '-' ? -1 : 1) * (int64_t{*h} * 3600 + int64_t{*m} * 60);
  } else {
    return std::nullopt;
  }
  const int64_t days = days_from_civil(*y, *mo, *dd);
  return (days * 86400 + *secs - offset_s) * 1000 + ms;
}

std::optional<int64_t> syslog_time_ms(std::string_view s, int year, int32_t utc_offset_s) {
  if (!syslog_stamp(s)) return std::nullopt;
  const int m = month_index(s.substr(0, 3));
  const unsigned day = static_cast<unsigned>((s[4] == ' ' ? 0 : (s[4] - '0') * 10) + (s[5] - '0'));
  if (day < 1 || day > days_in_month(year, static_cast<unsigned>(m))) return std::nullopt;
  const int64_t days = days_from_civil(year, static_cast<unsigned>(m), day);
  return (days * 86400 + *clock_seconds(s.substr(7, 8)) - utc_offset_s) * 1000;
}

}  // namespace sg::maillog
