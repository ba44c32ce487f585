// postcat -e: the envelope of one queue file (formats/held_queue.hpp). The
// postqueue -j side is in held_queue.cpp.
//
//   parse_asctime          message_arrival_time's form, in local time
//   name_queue_file        the queue and id from "hold/QID", "deferred/1/QID"
//   PostcatReader          the sections and records, a line at a time
//   parse_postcat_envelope the whole output, refused when cut or foreign
//   filter_transport       "out05:[127.0.0.1]:10025" -> "out05"
#include <ctime>
#include <string>
#include <utility>

#include "formats/held_queue.hpp"

namespace sg::held {

namespace {

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
// subfolders), "active/QID". A hash level is one character of a queue id.
void name_queue_file(std::string_view path, Envelope& env) {
  const auto first = path.find('/');
  const auto last = path.rfind('/');
  if (first == std::string_view::npos || first == 0) return;
  const std::string_view queue = path.substr(0, first), id = path.substr(last + 1);
  for (std::size_t i = first; i < last; i += 2)  // "/h" hash levels
    if (path[i] != '/' || i + 1 >= last || path[i + 2] != '/' ||
        !valid_queue_id(path.substr(i + 1, 1)))
      return;
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
