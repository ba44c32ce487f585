#include "formats/held_queue.hpp"

#include <ctime>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_set>
#include <utility>

namespace sg::held {

namespace {

using json = nlohmann::json;

// Error texts quote parts of their input (nlohmann's "last read: ..."):
// bounded, so a log line stays a line.
constexpr std::size_t kMaxErrorBytes = 240;

std::string bounded(std::string s) {
  if (s.size() > kMaxErrorBytes) {
    s.resize(kMaxErrorBytes);
    s += "...";
  }
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

std::string_view strip_line_end(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

bool blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  return true;
}

bool alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool valid_queue_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxQueueNameBytes) return false;
  for (char c : name)
    if (!alnum(c) && c != '_' && c != '-') return false;
  return true;
}

// A string member: absent -> true and `out` untouched unless required.
bool string_member(const json& obj, const char* name, bool required, std::string& out,
                   std::string& error) {
  const auto it = obj.find(name);
  if (it == obj.end()) {
    if (required) error = std::string("no ") + name;
    return !required;
  }
  if (!it->is_string()) {
    error = std::string(name) + " is not a string";
    return false;
  }
  out = it->get_ref<const std::string&>();
  return true;
}

bool parse_recipients(const json& list, std::vector<QueuedRecipient>& out, std::string& error) {
  if (!list.is_array()) {
    error = "recipients is not an array";
    return false;
  }
  if (list.size() > kMaxRecipients) {
    error = std::to_string(list.size()) + " recipients, over the limit of " +
            std::to_string(kMaxRecipients);
    return false;
  }
  out.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& r = list[i];
    const std::string where = "recipient " + std::to_string(i) + ": ";
    if (!r.is_object()) {
      error = where + "not an object";
      return false;
    }
    QueuedRecipient rcpt;
    std::string why;
    if (!string_member(r, "address", true, rcpt.address, why) ||
        !string_member(r, "delay_reason", false, rcpt.delay_reason, why)) {
      error = where + why;
      return false;
    }
    out.push_back(std::move(rcpt));
  }
  return true;
}

std::optional<QueuedMessage> from_json(const json& j, std::string& error) {
  if (!j.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  QueuedMessage m;
  if (!string_member(j, "queue_id", true, m.queue_id, error) ||
      !string_member(j, "queue_name", true, m.queue_name, error) ||
      !string_member(j, "sender", false, m.sender, error))
    return std::nullopt;
  if (!valid_queue_id(m.queue_id)) {
    error = "invalid queue_id \"" + bounded(m.queue_id) + "\"";
    return std::nullopt;
  }
  if (!valid_queue_name(m.queue_name)) {
    error = "invalid queue_name \"" + bounded(m.queue_name) + "\"";
    return std::nullopt;
  }
  if (const auto it = j.find("arrival_time"); it != j.end()) {
    if (it->is_number_unsigned()) {
      const auto v = it->get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        error = "arrival_time out of range";
        return std::nullopt;
      }
      m.arrival_time = static_cast<int64_t>(v);
    } else if (it->is_number_integer()) {
      m.arrival_time = it->get<int64_t>();
    } else {
      error = "arrival_time is not an integer";
      return std::nullopt;
    }
  }
  if (const auto it = j.find("message_size"); it != j.end()) {
    if (!it->is_number_unsigned()) {  // nlohmann types every integer >= 0 unsigned
      error = "message_size is not a non-negative integer";
      return std::nullopt;
    }
    m.message_size = it->get<uint64_t>();
  }
  if (const auto it = j.find("forced_expire"); it != j.end()) {
    if (!it->is_boolean()) {
      error = "forced_expire is not a boolean";
      return std::nullopt;
    }
    m.forced_expire = it->get<bool>();
  }
  if (const auto it = j.find("recipients"); it != j.end()) {
    if (!parse_recipients(*it, m.recipients, error)) return std::nullopt;
  }
  return m;
}

// asctime()'s form, which postcat prints: "Sat Nov 22 22:40:01 2025" (the
// day space-padded), taken as local time.
std::optional<int64_t> parse_asctime(std::string_view s) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::string_view parts[5];
  std::size_t n = 0;
  while (!s.empty()) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    if (s.empty()) break;
    if (n == 5) return std::nullopt;
    const auto sp = s.find(' ');
    parts[n++] = s.substr(0, sp);
    s = sp == std::string_view::npos ? std::string_view{} : s.substr(sp);
  }
  if (n != 5 || parts[0].size() != 3) return std::nullopt;
  auto number = [](std::string_view d, std::size_t min_len, std::size_t max_len, int& out) -> bool {
    if (d.size() < min_len || d.size() > max_len) return false;
    out = 0;
    for (char c : d) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    return true;
  };
  std::tm tm{};
  tm.tm_mon = -1;
  for (int i = 0; i < 12; ++i)
    if (parts[1] == kMonths[i]) tm.tm_mon = i;
  const std::string_view hms = parts[3];
  int year = 0;
  if (tm.tm_mon < 0 || !number(parts[2], 1, 2, tm.tm_mday) || hms.size() != 8 || hms[2] != ':' ||
      hms[5] != ':' || !number(hms.substr(0, 2), 2, 2, tm.tm_hour) ||
      !number(hms.substr(3, 2), 2, 2, tm.tm_min) || !number(hms.substr(6, 2), 2, 2, tm.tm_sec) ||
      !number(parts[4], 4, 4, year))
    return std::nullopt;
  if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 ||
      year < 1970)
    return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_isdst = -1;
  const std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(t);
}

// postcat -q names the file by its path under the queue directory:
// "hold/QID", "deferred/1/QID" (hash_queue_names adds one-character
// subfolders), "active/QID".
void name_queue_file(std::string_view path, Envelope& env) {
  const auto first = path.find('/');
  const auto last = path.rfind('/');
  if (first == std::string_view::npos || first == 0) return;
  const std::string_view queue = path.substr(0, first), id = path.substr(last + 1);
  for (std::size_t i = first; i < last; i += 2)  // "/h" hash levels
    if (path[i] != '/' || i + 1 >= last || path[i + 2] != '/' || !alnum(path[i + 1])) return;
  if (!valid_queue_name(queue) || !valid_queue_id(id)) return;
  env.queue_name = queue;
  env.queue_id = id;
}

bool record_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  return true;
}

}  // namespace

bool valid_queue_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxQueueIdBytes) return false;
  for (char c : id)
    if (!alnum(c)) return false;
  return true;
}

namespace {

// Postfix writes address bytes as they are, so an 8-bit address that is not
// UTF-8 would make the whole line invalid JSON and its message invisible to
// the drainer (held for ever). Each byte of an invalid sequence becomes '?':
// the queue id and the domains the drainer needs are ASCII anyway.
std::string valid_utf8(std::string_view in) {
  std::string out(in);
  for (std::size_t i = 0; i < out.size();) {
    const auto c = static_cast<unsigned char>(out[i]);
    std::size_t len = c < 0x80           ? 1
                      : (c >> 5) == 0x6  ? 2
                      : (c >> 4) == 0xE  ? 3
                      : (c >> 3) == 0x1E ? 4
                                         : 0;
    bool ok = len > 0 && i + len <= out.size();
    for (std::size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(out[i + k]) & 0xC0) == 0x80;
    if (ok && len > 1) {  // no overlong forms, surrogates, or code points past U+10FFFF
      const auto c1 = static_cast<unsigned char>(out[i + 1]);
      if (len == 2) ok = c >= 0xC2;
      if (len == 3) ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
      if (len == 4) ok = !(c == 0xF0 && c1 < 0x90) && c <= 0xF4 && !(c == 0xF4 && c1 >= 0x90);
    }
    if (!ok) {
      out[i++] = '?';
      continue;
    }
    i += len;
  }
  return out;
}

}  // namespace

std::optional<QueuedMessage> parse_postqueue_line(std::string_view line, std::string& error) {
  error.clear();
  line = strip_line_end(line);
  if (line.size() > kMaxLineBytes) {
    error = "line of " + std::to_string(line.size()) + " bytes, over the limit of " +
            std::to_string(kMaxLineBytes);
    return std::nullopt;
  }
  try {
    const std::string text = valid_utf8(line);
    const json j = json::parse(text.begin(), text.end());
    auto m = from_json(j, error);
    if (!m) error = bounded(std::move(error));
    return m;
  } catch (const std::exception& e) {
    error = bounded(e.what());
  } catch (...) {
    error = "unknown error";
  }
  return std::nullopt;
}

Listing parse_postqueue(std::string_view output) {
  Listing out;
  std::unordered_set<std::string> seen;
  std::size_t number = 0;
  while (!output.empty()) {
    const auto nl = output.find('\n');
    const std::string_view line = output.substr(0, nl);
    output = nl == std::string_view::npos ? std::string_view{} : output.substr(nl + 1);
    ++number;
    if (blank(line)) continue;
    std::string error;
    auto m = parse_postqueue_line(line, error);
    if (!m) {
      out.errors.push_back("line " + std::to_string(number) + ": " + error);
      continue;
    }
    if (!seen.insert(m->queue_id).second) continue;
    out.messages.push_back(std::move(*m));
  }
  return out;
}

namespace {

// Reads postcat -e output a line at a time: the section lines move it from
// one section to the next; records count in the envelope and the records
// extracted from the headers only.
class PostcatReader {
 public:
  enum class Section { before, envelope, content, extracted, end };

  // False (and `error` set) when the line makes the output unusable.
  bool line(std::string_view line, std::string& error) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() >= 8 && line.starts_with("*** ") && line.ends_with(" ***")) {
      const auto took = section_line(line.substr(4, line.size() - 8), error);
      if (took != Took::no) return took == Took::yes;
    }
    if (section_ != Section::envelope && section_ != Section::extracted) return true;
    return record(line, error);
  }

  Section section() const { return section_; }
  Envelope& envelope() { return env_; }

 private:
  enum class Took { no, yes, error };

  Took section_line(std::string_view title, std::string& error) {
    constexpr std::string_view kEnvelope = "ENVELOPE RECORDS ";
    if (title.starts_with(kEnvelope)) {
      if (section_ != Section::before) {
        error = "more than one queue file";
        return Took::error;
      }
      section_ = Section::envelope;
      path_ = title.substr(kEnvelope.size());
      name_queue_file(path_, env_);
      return Took::yes;
    }
    // The other section lines name the same file: anything else is a line
    // of message content (-h, -b) that looks like one.
    const auto sp = title.rfind(' ');
    if (section_ == Section::before || sp == std::string_view::npos ||
        title.substr(sp + 1) != path_)
      return Took::no;
    const std::string_view what = title.substr(0, sp);
    if (what == "MESSAGE CONTENTS")
      section_ = Section::content;
    else if (what == "HEADER EXTRACTED")
      section_ = Section::extracted;
    else if (what == "MESSAGE FILE END")
      section_ = Section::end;
    else
      return Took::no;
    return Took::yes;
  }

  bool record(std::string_view line, std::string& error) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return true;
    const std::string_view name = line.substr(0, colon);
    if (!record_name(name)) return true;
    std::string_view value = line.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);

    if (name == "content_filter") {
      env_.content_filter = value;  // the last one wins, as in Postfix's queue manager
    } else if (name == "sender") {
      if (!have_sender_) env_.sender = value;  // the first one, as in the queue manager
      have_sender_ = true;
    } else if (name == "recipient") {
      if (env_.recipients.size() >= kMaxRecipients) {
        error = "more than " + std::to_string(kMaxRecipients) + " recipients";
        return false;
      }
      env_.recipients.emplace_back(value);
    } else if (name == "message_arrival_time") {
      if (!env_.arrival_time) env_.arrival_time = parse_asctime(value);
    }
    // done_recipient (delivered), canceled_recipient (a duplicate) and the
    // rest are not mail to count.
    return true;
  }

  Section section_ = Section::before;
  Envelope env_;
  std::string_view path_;  // of the queue file, from the ENVELOPE RECORDS line
  bool have_sender_ = false;
};

}  // namespace

std::optional<Envelope> parse_postcat_envelope(std::string_view output, std::string& error) {
  error.clear();
  if (output.size() > kMaxEnvelopeBytes) {
    error = "output of " + std::to_string(output.size()) + " bytes, over the limit of " +
            std::to_string(kMaxEnvelopeBytes);
    return std::nullopt;
  }
  PostcatReader reader;
  while (!output.empty()) {
    const auto nl = output.find('\n');
    const std::string_view line = output.substr(0, nl);
    output = nl == std::string_view::npos ? std::string_view{} : output.substr(nl + 1);
    if (!reader.line(line, error)) return std::nullopt;
  }
  if (reader.section() == PostcatReader::Section::before) {
    error = "no \"*** ENVELOPE RECORDS\" line: not postcat -e output";
    return std::nullopt;
  }
  if (reader.section() != PostcatReader::Section::end) {
    error = "no \"*** MESSAGE FILE END\" line: the output is cut short";
    return std::nullopt;
  }
  return std::move(reader.envelope());
}

std::string_view filter_transport(std::string_view content_filter) {
  while (!content_filter.empty() &&
         (content_filter.front() == ' ' || content_filter.front() == '\t'))
    content_filter.remove_prefix(1);
  content_filter = content_filter.substr(0, content_filter.find(':'));
  while (!content_filter.empty() && (content_filter.back() == ' ' || content_filter.back() == '\t'))
    content_filter.remove_suffix(1);
  return content_filter;
}

}  // namespace sg::held
