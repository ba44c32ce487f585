// The Postfix policy delegation protocol (SMTPD_POLICY_README): a request is
// "name=value\n" lines ended by an empty line; the answer is
// "action=...\n\n". PolicyParser is a pure, incremental parser with named size
// limits; encode_* are its inverse. No I/O here.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sg::policy {

struct Limits {
  std::size_t max_line = 4096;       // bytes in one "name=value" line, without "\n" or "\r\n"
  std::size_t max_request = 32768;   // bytes in one request, every byte sent counted
  std::size_t max_attributes = 128;  // lines in one request
};

// One request. Attribute names are kept as sent; Postfix never repeats one.
class Request {
 public:
  std::string_view get(std::string_view name) const;  // "" when absent
  bool has(std::string_view name) const;
  void set(std::string name, std::string value);  // replaces an existing value
  const std::vector<std::pair<std::string, std::string>>& attributes() const { return attrs_; }
  void clear() { attrs_.clear(); }

 private:
  std::vector<std::pair<std::string, std::string>> attrs_;
};

enum class ParseStatus {
  need_more,  // every byte given was consumed; feed more
  complete,   // one whole request is ready: call take()
  error,      // protocol violation: error() says what; the connection should be closed
};

class PolicyParser {
 public:
  explicit PolicyParser(Limits limits = {});

  // Consumes bytes of `input` up to and including the empty line that ends a
  // request. `consumed` is set to how many bytes were used; bytes after a
  // complete request are left for the next call.
  ParseStatus feed(std::string_view input, std::size_t& consumed);

  // The completed request; the parser is then ready for the next one. Until
  // take() is called, feed() consumes nothing and keeps returning complete.
  // Without a completed request, take() returns an empty Request.
  Request take();
  const std::string& error() const { return error_; }

 private:
  ParseStatus add_line(std::string_view line);
  ParseStatus buffer_partial(std::string_view piece);
  ParseStatus end_line(std::string_view piece);
  ParseStatus end_request();
  ParseStatus line_too_long();
  ParseStatus fail(std::string message);
  Limits limits_;
  std::string partial_;  // bytes of a line not yet ended by '\n'
  std::size_t request_bytes_ = 0;
  Request current_;
  std::string error_;
  bool complete_ = false;  // current_ is whole and waits for take()
};

// "action=<text>\n\n". Newlines in `action` are replaced with spaces so a
// reason can never break the framing.
std::string encode_action(std::string_view action);

// The request as Postfix would send it (for tests, the load generator and
// streamguardctl). parse(encode_request(r)) == r for any r the parser produced.
std::string encode_request(const Request& request);

}  // namespace sg::policy
