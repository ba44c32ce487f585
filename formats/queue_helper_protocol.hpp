// The protocol between streamguard-rampd (an unprivileged user) and
// streamguard-queue-helper (root), which runs for it the only Postfix
// commands that need the superuser. One request per connection, one line:
//
//   release QUEUEID\n    postsuper -H QUEUEID   (out of the hold queue)
//   expire QUEUEID\n     postsuper -f QUEUEID   (returned to its sender)
//   envelope QUEUEID\n   postcat -e -q QUEUEID  (the envelope, to decide)
//
// QUEUEID is a Postfix queue id: 5 to 32 letters and digits, nothing else,
// so no option, path, wildcard ("ALL") or second argument can ride along.
// The answer, after which the helper closes the connection:
//
//   result STARTED EXIT SIGNAL TIMED_OUT OUT_LEN ERR_LEN ERROR_LEN\n
//   OUT ERR ERROR   (the three byte strings, back to back)
//
// STARTED and TIMED_OUT are 0/1; EXIT may be -1 (killed); the lengths are
// decimal byte counts. It carries a command::Result whole, so rampd logs
// and decides exactly as when it runs the command itself.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/command.hpp"

namespace sg::queue_helper {

enum class Verb { release, expire, envelope };

struct Request {
  Verb verb;
  std::string queue_id;
};

bool valid_queue_id(std::string_view id);

// "release 4BXk2L0TfTz9vKJ\n" and back. parse_request takes the line with or
// without its '\n'; nullopt (and `error` says why, for the helper's log)
// for anything that is not exactly one verb and one queue id.
std::string encode_request(const Request& r);
std::optional<Request> parse_request(std::string_view line, std::string& error);

// The Postfix program and arguments a verb runs (after COMMAND_DIR/ and -c).
const char* program_of(Verb v);
std::vector<std::string> arguments_of(const Request& r);
const char* verb_name(Verb v);

std::string encode_result(const command::Result& r);
// The whole answer as read until the helper closed; nullopt when it is cut
// short or malformed.
std::optional<command::Result> parse_result(std::string_view bytes);

}  // namespace sg::queue_helper
