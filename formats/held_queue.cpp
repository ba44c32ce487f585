// postqueue -j: the held queue's listing (formats/held_queue.hpp). The
// postcat -e side is in postcat_envelope.cpp.
//
//   valid_queue_id, valid_queue_name  what may reach a command line
//   from_json, parse_postqueue_line   one listed message, checked member by member
//   valid_utf8                        8-bit addresses kept readable, never fatal
//   parse_postqueue                   the whole listing, each queue id once
#include "formats/held_queue.hpp"

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

}  // namespace

bool valid_queue_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxQueueIdBytes) return false;
  for (char c : id)
    if (!alnum(c)) return false;
  return true;
}

bool valid_queue_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxQueueNameBytes) return false;
  for (char c : name)
    if (!alnum(c) && c != '_' && c != '-') return false;
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

}  // namespace sg::held
