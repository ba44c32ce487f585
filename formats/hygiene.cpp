#include "formats/hygiene.hpp"

#include "common/text.hpp"

#include <algorithm>
#include <array>

namespace sg::hygiene {

namespace {

using text::iequals;
using text::is_space;
using text::lower;
using text::lower_char;
using text::trim;

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// For texts meant for a person: long values are cut.
std::string elide(std::string_view s) {
  constexpr std::size_t kMax = 200;
  if (s.size() <= kMax) return std::string(s);
  return std::string(s.substr(0, kMax)) + "...";
}

// RFC 2045 token: printable US-ASCII except SPACE and tspecials.
bool is_token_char(char c) {
  if (c <= ' ' || c >= 0x7f) return false;
  constexpr std::string_view tspecials = "()<>@,;:\\\"/[]?=";
  return tspecials.find(c) == std::string_view::npos;
}

// Skips whitespace (folding included) and comments, which nest and may hold
// quoted pairs. An unterminated comment runs to the end.
void skip_cfws(std::string_view s, std::size_t& i) {
  while (i < s.size()) {
    if (is_space(s[i])) {
      ++i;
    } else if (s[i] == '(') {
      std::size_t depth = 0;
      while (i < s.size()) {
        const char c = s[i++];
        if (c == '\\') {
          if (i < s.size()) ++i;
        } else if (c == '(') {
          ++depth;
        } else if (c == ')') {
          if (--depth == 0) break;
        }
      }
    } else {
      break;
    }
  }
}

std::string_view read_token(std::string_view s, std::size_t& i) {
  const std::size_t start = i;
  while (i < s.size() && is_token_char(s[i])) ++i;
  return s.substr(start, i - start);
}

// At an opening '"': the unquoted content; folding (CR, LF) is dropped.
std::string read_quoted(std::string_view s, std::size_t& i) {
  std::string out;
  ++i;
  while (i < s.size() && s[i] != '"') {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;  // a quoted pair
    if (s[i] != '\r' && s[i] != '\n') out += s[i];
    ++i;
  }
  if (i < s.size()) ++i;  // the closing quote
  return out;
}

// Past the next ';' outside quotes and comments (or to the end).
void skip_to_semicolon(std::string_view s, std::size_t& i) {
  while (i < s.size() && s[i] != ';') {
    if (s[i] == '"') {
      (void)read_quoted(s, i);
    } else if (s[i] == '(') {
      skip_cfws(s, i);
    } else {
      ++i;
    }
  }
}

// The disposition type of a Content-Disposition value, lowercase.
std::string parse_disposition(std::string_view value) {
  std::size_t i = 0;
  skip_cfws(value, i);
  return lower(read_token(value, i));
}

// The address (local@domain) of each mailbox in a From value, at most `max`
// of them, and how many there are (up to max + 1, enough to tell "several").
// Handles display names (quoted ones with ',' '<' '@' inside), comments,
// groups ("name: a@b, c@d;"), obsolete routes (<@relay:user@domain>) and
// domain literals.
std::vector<std::string> mailbox_addresses(std::string_view v, std::size_t& count) {
  std::vector<std::string> out;
  count = 0;
  std::string outside, angle;
  bool in_angle = false, has_angle = false;
  auto target = [&]() -> std::string& { return in_angle ? angle : outside; };
  auto finish_one = [&]() {
    std::string addr = has_angle ? angle : outside;
    if (has_angle && !addr.empty() && addr.front() == '@') {
      const auto colon = addr.find(':');
      addr = colon == std::string::npos ? std::string() : addr.substr(colon + 1);
    }
    if (!addr.empty()) {
      ++count;
      if (out.empty()) out.push_back(std::move(addr));
    }
    outside.clear();
    angle.clear();
    in_angle = has_angle = false;
  };
  std::size_t i = 0;
  while (i < v.size()) {
    const char c = v[i];
    if (c == '(') {
      skip_cfws(v, i);
      continue;
    }
    if (c == '"') {
      // Kept with its quotes: in a bare addr-spec it is the local part.
      const std::size_t start = i;
      (void)read_quoted(v, i);
      if (!has_angle || in_angle) target() += v.substr(start, i - start);
      continue;
    }
    if (c == '[') {
      const auto end = v.find(']', i);
      const std::size_t stop = end == std::string_view::npos ? v.size() : end + 1;
      if (!has_angle || in_angle) target() += v.substr(i, stop - i);
      i = stop;
      continue;
    }
    ++i;
    if (is_space(c)) continue;
    if (in_angle) {
      if (c == '>') {
        in_angle = false;
      } else {
        angle += c;
      }
      continue;
    }
    switch (c) {
      case '<':
        // The first angle address of a mailbox counts; later ones are ignored.
        if (!has_angle) {
          has_angle = in_angle = true;
        }
        break;
      case ',':
      case ';':
        finish_one();
        break;
      case ':':
        // A group's display name: what came before is no address.
        if (!has_angle) outside.clear();
        break;
      default:
        if (!has_angle) outside += c;
    }
  }
  finish_one();
  return out;
}

// The position of the '@' that starts the domain of an address: the last one
// outside quotes.
std::size_t domain_at(std::string_view addr) {
  std::size_t at = std::string_view::npos;
  bool quoted = false;
  for (std::size_t i = 0; i < addr.size(); ++i) {
    if (quoted && addr[i] == '\\') {
      ++i;
    } else if (addr[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && addr[i] == '@') {
      at = i;
    }
  }
  return at;
}

void append_problem(std::string& to, std::string_view text) {
  if (!to.empty()) to += "; ";
  to += text;
}

}  // namespace

std::optional<std::string> ContentType::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return std::nullopt;
}

ContentType parse_content_type(std::string_view s) {
  ContentType ct;
  std::size_t i = 0;
  skip_cfws(s, i);
  const auto type = read_token(s, i);
  skip_cfws(s, i);
  if (type.empty() || i >= s.size() || s[i] != '/') return ct;
  ++i;
  skip_cfws(s, i);
  const auto subtype = read_token(s, i);
  if (subtype.empty()) return ct;
  ct.valid = true;
  ct.type = lower(type);
  ct.subtype = lower(subtype);
  while (i < s.size()) {
    skip_to_semicolon(s, i);  // garbage before the ';' is ignored
    if (i >= s.size()) break;
    ++i;
    skip_cfws(s, i);
    const auto name = read_token(s, i);
    skip_cfws(s, i);
    if (name.empty() || i >= s.size() || s[i] != '=') continue;
    ++i;
    skip_cfws(s, i);
    std::string value;
    if (i < s.size() && s[i] == '"') {
      value = read_quoted(s, i);
    } else {
      const std::size_t start = i;
      while (i < s.size()) {
        const char c = s[i];
        if (c == ';' || c == '(' || c == '"' || is_space(c) || c < ' ' || c == 0x7f) break;
        ++i;
      }
      value = s.substr(start, i - start);
    }
    std::string key = lower(name);
    if (!ct.param(key)) ct.params.emplace_back(std::move(key), std::move(value));
  }
  return ct;
}

bool is_local_domain(std::string_view domain) {
  std::string d = lower(trim(domain));
  if (!d.empty() && d.back() == '.') d.pop_back();
  if (d.empty() || d.front() == '[') return true;
  const auto dot = d.rfind('.');
  if (dot == std::string::npos) return true;  // a single label
  const std::string_view tld = std::string_view(d).substr(dot + 1);
  if (tld.empty()) return true;
  if (std::all_of(tld.begin(), tld.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return true;
  }
  static constexpr std::array<std::string_view, 10> kLocalTlds = {
      "localhost", "localdomain", "local", "internal", "lan",
      "home",      "corp",        "test",  "example",  "invalid"};
  for (const auto t : kLocalTlds) {
    if (tld == t) return true;
  }
  return d.ends_with(".home.arpa");
}

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

// ---- MIME ----

void MessageScanner::enter_entity(std::string_view content_type, bool has_content_type,
                                  std::string_view disposition, bool top_level, bool no_body) {
  state_ = top_level ? State::done : State::body;
  std::string type = "text", subtype = "plain";
  ContentType ct;
  if (has_content_type) ct = parse_content_type(content_type);
  if (ct.valid) {
    type = ct.type;
    subtype = ct.subtype;
  } else if (!has_content_type && !top_level && !stack_.empty() && stack_.back().digest) {
    type = "message";
    subtype = "rfc822";
  }
  if (top_level) f_.content_type = type + "/" + subtype;

  if (type == "multipart") {
    if (no_body) return;
    const auto boundary = ct.param("boundary");
    if (!boundary || boundary->empty()) {
      if (f_.mime_problem.empty()) {
        f_.mime_problem = type + "/" + subtype + " has no boundary parameter";
      }
      return;
    }
    if (boundary->size() > kMaxBoundaryLength) {
      stop("a MIME boundary is longer than " + std::to_string(kMaxBoundaryLength) + " bytes");
      return;
    }
    if (stack_.size() >= kMaxDepth) {
      stop("multiparts are nested deeper than " + std::to_string(kMaxDepth));
      return;
    }
    stack_.push_back(Frame{*boundary, subtype == "digest"});
    state_ = State::body;  // the preamble
    return;
  }
  ++f_.parts;
  if (disposition == "attachment") {
    ++f_.attachments;
  } else if (type == "text" && subtype == "plain") {
    ++f_.text_plain_parts;
  } else if (type == "text" && subtype == "html") {
    ++f_.text_html_parts;
  }
}

std::size_t MessageScanner::line_cap() const {
  // A body line matters only as a possible boundary line: "--", the boundary
  // and "--" (or the first whitespace after it).
  return state_ == State::part_headers ? kMaxPartHeaderLine : kMaxBoundaryLength + 4;
}

void MessageScanner::note_truncated(std::string reason) {
  if (!f_.truncated) f_.truncated_reason = std::move(reason);
  f_.truncated = true;
}

void MessageScanner::stop(std::string reason) {
  note_truncated(std::move(reason));
  state_ = State::done;
  stack_.clear();
}

void MessageScanner::body(std::string_view chunk) {
  if (finished_) return;
  if (!headers_done_) end_of_headers();
  while (state_ != State::done && !chunk.empty()) {
    const auto nl = chunk.find('\n');
    if (nl == std::string_view::npos) {
      add_line_bytes(chunk);
      return;
    }
    add_line_bytes(chunk.substr(0, nl));
    chunk.remove_prefix(nl + 1);
    end_line();
  }
}

void MessageScanner::add_line_bytes(std::string_view bytes) {
  const std::size_t room = line_cap_ > line_.size() ? line_cap_ - line_.size() : 0;
  if (bytes.size() <= room) {
    line_.append(bytes);
    return;
  }
  line_.append(bytes.substr(0, room));
  long_ = true;
  if (long_blank_) {
    for (const char c : bytes.substr(room)) {
      if (c != ' ' && c != '\t' && c != '\r') {
        long_blank_ = false;
        break;
      }
    }
  }
}

void MessageScanner::end_line() {
  std::string_view line = line_;
  if (!long_ && !line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (state_ == State::part_headers) {
    if (long_) {
      stop("a part header line is longer than " + std::to_string(kMaxPartHeaderLine) + " bytes");
    } else {
      header_line(line);
    }
  } else if (state_ == State::body) {
    body_line(line, long_ && !long_blank_);
  }
  line_.clear();
  long_ = false;
  long_blank_ = true;
  line_cap_ = line_cap();
}

std::optional<std::pair<std::size_t, bool>> MessageScanner::match_boundary(
    std::string_view line, bool tail_nonblank) const {
  if (line.size() < 2 || line[0] != '-' || line[1] != '-') return std::nullopt;
  const std::string_view after = line.substr(2);
  for (std::size_t i = stack_.size(); i-- > 0;) {
    const std::string& b = stack_[i].boundary;
    if (!after.starts_with(b)) continue;
    const std::string_view rest = after.substr(b.size());
    if (rest.starts_with("--")) return std::pair{i, true};
    if (!tail_nonblank && rest.find_first_not_of(" \t\r") == std::string_view::npos) {
      return std::pair{i, false};
    }
  }
  return std::nullopt;
}

void MessageScanner::apply_boundary(std::size_t frame, bool close) {
  stack_.erase(stack_.begin() + static_cast<std::ptrdiff_t>(frame) + 1, stack_.end());
  if (close) {
    stack_.pop_back();
    state_ = stack_.empty() ? State::done : State::body;  // an epilogue
    return;
  }
  if (++delimiters_ > kMaxParts) {
    stop("more than " + std::to_string(kMaxParts) + " MIME parts");
    return;
  }
  state_ = State::part_headers;
  field_ = PartField::none;
  field_value_.clear();
  part_has_type_ = part_has_disposition_ = false;
  part_type_.clear();
  part_disposition_.clear();
}

void MessageScanner::body_line(std::string_view line, bool tail_nonblank) {
  if (state_ != State::body) return;
  if (const auto m = match_boundary(line, tail_nonblank)) apply_boundary(m->first, m->second);
}

void MessageScanner::header_line(std::string_view line) {
  if (const auto m = match_boundary(line, false)) {
    end_part_headers(true);
    if (state_ != State::done) apply_boundary(m->first, m->second);
    return;
  }
  if (line.empty()) {
    end_part_headers(false);
    return;
  }
  if (line.front() == ' ' || line.front() == '\t') {
    if (field_ == PartField::content_type || field_ == PartField::disposition) {
      if (field_value_.size() + line.size() > kMaxHeaderField) {
        stop("a part header is longer than " + std::to_string(kMaxHeaderField) + " bytes");
        return;
      }
      field_value_ += line;
    }
    return;
  }
  const auto colon = line.find(':');
  std::string_view name =
      colon == std::string_view::npos ? std::string_view{} : line.substr(0, colon);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  const bool is_header = !name.empty() && std::all_of(name.begin(), name.end(),
                                                      [](char c) { return c > ' ' && c < 0x7f; });
  if (!is_header) {
    // Not a header: the headers ended without their empty line.
    end_part_headers(false);
    body_line(line, false);
    return;
  }
  commit_part_header();
  if (iequals(name, "Content-Type")) {
    field_ = PartField::content_type;
  } else if (iequals(name, "Content-Disposition")) {
    field_ = PartField::disposition;
  } else {
    field_ = PartField::other;
    return;
  }
  field_value_ = line.substr(colon + 1);
}

void MessageScanner::commit_part_header() {
  if (field_ == PartField::content_type && !part_has_type_) {
    part_has_type_ = true;
    part_type_ = std::move(field_value_);
  } else if (field_ == PartField::disposition && !part_has_disposition_) {
    part_has_disposition_ = true;
    part_disposition_ = parse_disposition(field_value_);
  }
  field_ = PartField::none;
  field_value_.clear();
}

void MessageScanner::end_part_headers(bool no_body) {
  commit_part_header();
  enter_entity(part_type_, part_has_type_, part_disposition_, false, no_body);
  part_type_.clear();
  part_disposition_.clear();
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

std::size_t MessageScanner::buffered_bytes() const {
  std::size_t n = line_.size() + field_value_.size() + part_type_.size() + part_disposition_.size();
  for (const auto& fr : stack_) n += fr.boundary.size();
  return n;
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
