#include "formats/policy_protocol.hpp"

#include <cstring>

namespace sg::policy {

namespace {

// A line whose end has not arrived yet may end in the '\r' of a telnet "\r\n";
// that byte is not content, so it must not count against max_line yet.
std::size_t min_content_length(std::string_view unterminated) {
  if (!unterminated.empty() && unterminated.back() == '\r') return unterminated.size() - 1;
  return unterminated.size();
}

bool has_nul(std::string_view bytes) {
  return std::memchr(bytes.data(), '\0', bytes.size()) != nullptr;
}

}  // namespace

std::string_view Request::get(std::string_view name) const {
  for (const auto& [key, value] : attrs_) {
    if (key == name) return value;
  }
  return {};
}

bool Request::has(std::string_view name) const {
  for (const auto& attr : attrs_) {
    if (attr.first == name) return true;
  }
  return false;
}

void Request::set(std::string name, std::string value) {
  for (auto& attr : attrs_) {
    if (attr.first == name) {
      attr.second = std::move(value);
      return;
    }
  }
  attrs_.emplace_back(std::move(name), std::move(value));
}

PolicyParser::PolicyParser(Limits limits) : limits_(limits) {}

ParseStatus PolicyParser::feed(std::string_view input, std::size_t& consumed) {
  consumed = 0;
  if (!error_.empty()) return ParseStatus::error;
  // take() has not been called yet: refuse to mix the next request into it.
  if (complete_) return ParseStatus::complete;

  while (consumed < input.size()) {
    std::string_view rest = input.substr(consumed);
    const void* newline = std::memchr(rest.data(), '\n', rest.size());
    std::size_t segment = newline ? static_cast<const char*>(newline) - rest.data() : rest.size();
    std::string_view piece = rest.substr(0, segment);
    if (has_nul(piece)) return fail("NUL byte in request");

    if (!newline) {
      consumed = input.size();
      return buffer_partial(piece);
    }
    consumed += segment + 1;
    ParseStatus status = end_line(piece);
    if (status != ParseStatus::need_more) return status;
  }
  return ParseStatus::need_more;
}

ParseStatus PolicyParser::buffer_partial(std::string_view piece) {
  partial_.append(piece);
  // Checked now, not at the line's end, so a peer that never sends '\n'
  // cannot make us buffer without bound.
  if (min_content_length(partial_) > limits_.max_line) return line_too_long();
  return ParseStatus::need_more;
}

ParseStatus PolicyParser::end_line(std::string_view piece) {
  // Most lines arrive whole in one read: parse them in place, copy-free.
  std::string_view line = piece;
  if (!partial_.empty()) {
    partial_.append(piece);
    line = partial_;
  }
  request_bytes_ += line.size() + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > limits_.max_line) return line_too_long();
  if (request_bytes_ > limits_.max_request) {
    return fail("request larger than " + std::to_string(limits_.max_request) + " bytes");
  }
  ParseStatus status = add_line(line);
  partial_.clear();  // keeps its capacity for the next split line
  return status;
}

ParseStatus PolicyParser::add_line(std::string_view line) {
  const std::size_t line_number = current_.attributes().size() + 1;
  if (line.empty()) return end_request();
  auto equals = line.find('=');
  if (equals == std::string_view::npos) {
    return fail("line " + std::to_string(line_number) + " has no '='");
  }
  if (equals == 0) return fail("line " + std::to_string(line_number) + " has an empty name");
  if (line_number > limits_.max_attributes) {
    return fail("more than " + std::to_string(limits_.max_attributes) + " attributes");
  }
  std::string_view name = line.substr(0, equals);
  // set() replaces a present name instead of adding one, so an unchanged
  // size is the repeat, found with the one search set() does anyway.
  current_.set(std::string(name), std::string(line.substr(equals + 1)));
  if (current_.attributes().size() != line_number) {
    return fail("attribute '" + std::string(name) + "' repeated");
  }
  return ParseStatus::need_more;
}

ParseStatus PolicyParser::end_request() {
  if (current_.attributes().empty()) return fail("empty request");
  complete_ = true;
  return ParseStatus::complete;
}

ParseStatus PolicyParser::line_too_long() {
  return fail("line longer than " + std::to_string(limits_.max_line) + " bytes");
}

ParseStatus PolicyParser::fail(std::string message) {
  error_ = std::move(message);
  return ParseStatus::error;
}

Request PolicyParser::take() {
  if (!complete_) return {};
  Request done = std::move(current_);
  current_.clear();
  request_bytes_ = 0;
  complete_ = false;
  return done;
}

std::string encode_action(std::string_view action) {
  std::string out;
  out.reserve(action.size() + 9);
  out += "action=";
  for (char c : action) out += (c == '\n' || c == '\r') ? ' ' : c;
  out += "\n\n";
  return out;
}

std::string encode_request(const Request& request) {
  std::string out;
  for (const auto& [name, value] : request.attributes()) {
    out += name;
    out += '=';
    out += value;
    // The parser strips one '\r' before '\n'; doubling it keeps a value that
    // really ends in '\r' intact, so encode_request stays parse's inverse.
    if (!value.empty() && value.back() == '\r') out += '\r';
    out += '\n';
  }
  out += '\n';
  return out;
}

}  // namespace sg::policy
