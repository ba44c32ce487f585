// `streamguardctl enforce STREAM` and `streamguardctl shadow STREAM`: one
// command that moves a stream between shadow and enforcement everywhere at
// once, in this order, stopping at the first step that fails:
//
//   1. the configuration: the stream's `mode` line in its [[stream]] table
//      is set (added after `name` when the stream has none), nothing else in
//      the file changes; the new file must parse and pass --check-config's
//      checks before it replaces the old one (same owner and mode);
//   2. the daemons: each one with a status endpoint is asked its pid on
//      /status, sent SIGHUP, and waited for until its /status shows the
//      stream in the new mode (an invalid configuration would be kept out
//      by the daemon: then this stops, and the daemon's log says why);
//   3. Postfix: `postfix-conf --apply` (the stream's service gets the
//      enforcing or the shadow restriction list and milter_default_action).
//
// Before step 1 every daemon must answer, so a stream is never left half
// switched because one was down.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"

namespace sg {

struct ModeEdit {
  std::string text;    // the whole file, edited
  int line = 0;        // 1-based line set or added
  std::string before;  // that line as it was ("" when added)
  std::string after;   // as it is now
};

// Sets `mode = "..."` in the [[stream]] table whose name is `stream`. Pure:
// text in, text out. nullopt with `error` when the table cannot be found by
// a plain reading (the caller then asks for an edit by hand).
std::optional<ModeEdit> set_stream_mode(std::string_view toml, const std::string& stream,
                                        StreamMode mode, std::string& error);

// The command; `args` are those after "enforce" or "shadow". Prints what it
// does on stdout, problems on stderr; returns the exit status (0 done, 1
// refused or failed, 2 usage).
int run_stream_mode(StreamMode mode, const std::vector<std::string>& args);

}  // namespace sg
