// The hygiene scanner's top-level header checks (Message-ID, From,
// one-click unsubscribe) and its findings; the MIME walk is
// formats/hygiene_mime.cpp.
#include "formats/hygiene.hpp"

#include <algorithm>
#include <array>

#include "common/text.hpp"
#include "formats/header_fields.hpp"

namespace sg::hygiene {

using namespace detail;

namespace {

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// For texts meant for a person: long values are cut.
std::string elide(std::string_view s) {
  constexpr std::size_t kMax = 200;
  if (s.size() <= kMax) return std::string(s);
  return std::string(s.substr(0, kMax)) + "...";
}

void append_problem(std::string& to, std::string_view text) {
  if (!to.empty()) to += "; ";
  to += text;
}

}  // namespace

std::vector<std::string> Findings::problems() const {
  std::vector<std::string> out;
  for (const std::string* p : {&message_id_problem, &mime_problem, &unsubscribe_problem,
                               &from_problem, &truncated_reason}) {
    if (!p->empty()) out.push_back(*p);
  }
  return out;
}

// ---- top-level headers ----

void MessageScanner::header(std::string_view name, std::string_view value) {
  if (headers_done_ || finished_) return;
  const bool dkim = iequals(name, "DKIM-Signature");
  if (value.size() > kMaxHeaderValue) {
    if (dkim) {
      ++f_.dkim_signatures_dropped;
    } else {
      note_truncated("a " + elide(name) + " header longer than " + std::to_string(kMaxHeaderValue) +
                     " bytes was skipped");
    }
    return;
  }
  if (dkim) {
    if (f_.dkim_signatures.size() < kMaxDkimSignatures) {
      f_.dkim_signatures.emplace_back(value);
    } else {
      ++f_.dkim_signatures_dropped;
    }
  } else if (iequals(name, "Message-ID")) {
    if (!f_.message_id_present) parse_message_id(value);
  } else if (iequals(name, "From")) {
    if (f_.from_present) {
      f_.multiple_from = true;
    } else {
      parse_from(value);
    }
  } else if (iequals(name, "List-Unsubscribe")) {
    parse_list_unsubscribe(value);
  } else if (iequals(name, "List-Unsubscribe-Post")) {
    if (!seen_post_) first_post_ = elide(trim(value));
    seen_post_ = true;
    std::string compact;
    for (const char c : value) {
      if (!is_space(c)) compact += c;
    }
    if (iequals(compact, "List-Unsubscribe=One-Click")) f_.one_click = true;
  } else if (iequals(name, "Content-Type")) {
    if (!have_content_type_) {
      have_content_type_ = true;
      if (value.size() > kMaxHeaderField) {
        content_type_too_long_ = true;
      } else {
        content_type_ = value;
      }
    }
  }
}

void MessageScanner::parse_message_id(std::string_view value) {
  f_.message_id_present = true;
  std::size_t i = 0;
  skip_cfws(value, i);
  std::string_view id;
  if (i < value.size() && value[i] == '<') {
    const auto end = value.find('>', i + 1);
    id = value.substr(i + 1, end == std::string_view::npos ? std::string_view::npos : end - i - 1);
  } else {
    id = trim(value.substr(i));
  }
  for (const char c : id) {
    if (c != '\r' && c != '\n') f_.message_id += c;
  }
  const auto at = f_.message_id.rfind('@');
  if (f_.message_id.empty()) {
    f_.local_message_id = true;
    f_.message_id_problem = "Message-ID header is empty";
  } else if (at == std::string::npos) {
    f_.local_message_id = true;
    f_.message_id_problem = "Message-ID <" + elide(f_.message_id) + "> has no domain";
  } else {
    f_.message_id_domain = lower(std::string_view(f_.message_id).substr(at + 1));
    f_.local_message_id = is_local_domain(f_.message_id_domain);
    if (f_.local_message_id) {
      f_.message_id_problem = "Message-ID <" + elide(f_.message_id) + "> is on a local domain";
    }
  }
}

void MessageScanner::parse_from(std::string_view value) {
  f_.from_present = true;
  std::size_t count = 0;
  auto addrs = mailbox_addresses(value, count);
  f_.multiple_from = count > 1;
  if (addrs.empty()) {
    f_.from_problem = "From has no address";
    return;
  }
  f_.from_address = std::move(addrs.front());
  const auto at = domain_at(f_.from_address);
  if (at == std::string::npos || at + 1 == f_.from_address.size()) {
    f_.from_problem = "From address " + elide(f_.from_address) + " has no domain";
    return;
  }
  f_.from_domain = lower(std::string_view(f_.from_address).substr(at + 1));
}

void MessageScanner::parse_list_unsubscribe(std::string_view value) {
  seen_list_unsubscribe_ = true;
  std::size_t i = 0;
  while (i < value.size()) {
    if (value[i] == '(') {
      skip_cfws(value, i);
      continue;
    }
    if (value[i] != '<') {
      ++i;
      continue;
    }
    std::string uri;
    for (++i; i < value.size() && value[i] != '>'; ++i) {
      if (!is_space(value[i])) uri += value[i];  // RFC 2369: whitespace in <> is ignored
    }
    if (i < value.size()) ++i;
    if (istarts_with(uri, "https:") && uri.size() > 6) {
      f_.list_unsubscribe = f_.list_unsubscribe_https = true;
    } else if (istarts_with(uri, "mailto:") && uri.size() > 7) {
      f_.list_unsubscribe = f_.list_unsubscribe_mailto = true;
    }
  }
}

void MessageScanner::end_of_headers() {
  if (headers_done_ || finished_) return;
  headers_done_ = true;
  if (content_type_too_long_) {
    f_.content_type.clear();
    stop("the Content-Type header is longer than " + std::to_string(kMaxHeaderField) + " bytes");
    return;
  }
  enter_entity(content_type_, have_content_type_, "", true, false);
  content_type_.clear();
  content_type_.shrink_to_fit();
  line_cap_ = line_cap();
}

Findings MessageScanner::finish() {
  if (finished_) return f_;
  if (!headers_done_) end_of_headers();
  if (state_ != State::done && (!line_.empty() || long_)) end_line();
  if (state_ == State::part_headers) end_part_headers(true);
  finished_ = true;
  state_ = State::done;
  stack_.clear();
  line_.clear();
  line_.shrink_to_fit();

  f_.html_without_text = f_.text_html_parts > 0 && f_.text_plain_parts == 0;
  if (f_.html_without_text) {
    append_problem(f_.mime_problem, "HTML-only: " + std::to_string(f_.text_html_parts) +
                                        " text/html part(s) and no text/plain alternative");
  }

  if (!f_.message_id_present) f_.message_id_problem = "message has no Message-ID header";
  if (!f_.from_present) f_.from_problem = "message has no From header";
  if (f_.multiple_from && f_.from_problem.empty()) {
    f_.from_problem = "From has more than one mailbox (first: " + elide(f_.from_address) + ")";
  }

  std::string& u = f_.unsubscribe_problem;
  if (!seen_list_unsubscribe_) {
    append_problem(u, "no List-Unsubscribe header");
  } else if (!f_.list_unsubscribe) {
    append_problem(u, "List-Unsubscribe has no <https:...> or <mailto:...> URI");
  }
  if (!seen_post_) {
    append_problem(u, "no List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058)");
  } else if (!f_.one_click) {
    append_problem(u, "List-Unsubscribe-Post is \"" + first_post_ +
                          "\", not List-Unsubscribe=One-Click (RFC 8058)");
  }
  if (seen_list_unsubscribe_ && f_.list_unsubscribe && !f_.list_unsubscribe_https) {
    append_problem(u, "List-Unsubscribe has no https: URI for one-click (RFC 8058)");
  }
  return f_;
}

std::size_t feed_headers(MessageScanner& scanner, std::string_view message) {
  std::size_t pos = 0;
  // Header fields: a line "name: value" and the lines after it that start
  // with whitespace. The value keeps the folding, as a milter passes it.
  std::string_view name;
  std::size_t value_start = 0, value_end = 0;
  bool in_field = false;
  auto flush = [&]() {
    if (in_field) scanner.header(name, message.substr(value_start, value_end - value_start));
    in_field = false;
  };
  while (pos < message.size()) {
    const auto nl = message.find('\n', pos);
    const std::size_t next = nl == std::string_view::npos ? message.size() : nl + 1;
    std::string_view line = message.substr(pos, next - pos);
    std::string_view content = line;
    if (content.ends_with('\n')) content.remove_suffix(1);
    if (content.ends_with('\r')) content.remove_suffix(1);
    if (content.empty()) {
      pos = next;  // the empty line ends the headers
      break;
    }
    if (content.front() == ' ' || content.front() == '\t') {
      if (in_field) value_end = pos + content.size();
      pos = next;
      continue;
    }
    const auto colon = content.find(':');
    if (colon == std::string_view::npos || colon == 0) break;  // the body starts here
    flush();
    name = content.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    value_start = pos + colon + 1;
    while (value_start < pos + content.size() &&
           (message[value_start] == ' ' || message[value_start] == '\t')) {
      ++value_start;
    }
    value_end = pos + content.size();
    in_field = true;
    pos = next;
  }
  flush();
  scanner.end_of_headers();
  return std::min(pos, message.size());
}

Findings scan_message(std::string_view message, std::size_t chunk) {
  MessageScanner scanner;
  std::string_view body = message.substr(feed_headers(scanner, message));
  if (chunk == 0) chunk = std::max<std::size_t>(body.size(), 1);
  while (!body.empty()) {
    const std::size_t n = std::min(chunk, body.size());
    scanner.body(body.substr(0, n));
    body.remove_prefix(n);
  }
  return scanner.finish();
}

}  // namespace sg::hygiene
