// The hygiene scanner's MIME walk: body lines, multipart boundaries, part
// headers, each entity's type and disposition (is there a text/plain
// alternative?), within the line and depth bounds of formats/hygiene.hpp.
#include "formats/hygiene.hpp"

#include <algorithm>

#include "common/text.hpp"
#include "formats/header_fields.hpp"

namespace sg::hygiene {

using namespace detail;

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

std::size_t MessageScanner::buffered_bytes() const {
  std::size_t n = line_.size() + field_value_.size() + part_type_.size() + part_disposition_.size();
  for (const auto& fr : stack_) n += fr.boundary.size();
  return n;
}

}  // namespace sg::hygiene
