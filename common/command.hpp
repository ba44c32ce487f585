// Runs a program (postqueue, postcat, postsuper) and collects what it wrote,
// with a deadline. No shell: argv goes to the program as given, so a queue id
// or an address is never interpreted by anyone but the program.
//
// The child gets stdin from /dev/null, stdout and stderr on pipes (read with
// poll), the parent's environment, an empty signal mask and default signal
// dispositions, and its own process group. At the deadline the whole group
// gets SIGKILL. The child is always reaped before run() returns, and no
// descriptor outlives the call or leaks into another child (O_CLOEXEC).
//
// run() blocks the calling thread: rampd calls it off its event loop,
// streamguardctl to ask postconf.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sg::command {

struct Result {
  // False when the program could not be started (not found, not executable,
  // no resources): `error` says why and nothing else is set. A missing
  // program is reported here, not as exit 127 (there is no shell).
  bool started = false;
  int exit_code = -1;      // the program's exit status; -1 if it was killed by a signal
  int signal = 0;          // the signal that killed it, 0 if it exited
  bool timed_out = false;  // it outlived the timeout and was killed (signal is SIGKILL)
  std::string out, err;    // what it wrote, each cut at max_output bytes
  // Why it could not be started, or what else went wrong while it ran
  // ("stdout over 16777216 bytes, cut"); "" when all went well.
  std::string error;

  // Started, exited by itself with status 0.
  bool ok() const { return started && !timed_out && signal == 0 && exit_code == 0; }
};

// argv[0] is the program's path (no PATH search: give an absolute path).
// Output beyond max_output bytes per stream is read and dropped, so the
// program never blocks on a full pipe. Never throws.
Result run(const std::vector<std::string>& argv, uint32_t timeout_ms,
           std::size_t max_output = 16 << 20);

// One log line: the command, then what happened, e.g.
//   /usr/sbin/postsuper -H 4BXk2L0TfTz9vKJ: exit 1: postsuper: fatal: ...
//   /usr/sbin/postqueue -j: timed out, killed
//   /usr/sbin/nope: not started: posix_spawn: No such file or directory
// The first non-empty stderr line (else stdout line) is appended when the
// command failed; control characters are replaced and the line is bounded.
std::string describe(const Result& r, const std::vector<std::string>& argv);

// A Postfix program's argv: COMMAND_DIR/PROGRAM, then -c CONFIG_DIR when one
// is given (else Postfix's default configuration), then `args`.
std::vector<std::string> postfix_argv(const std::string& command_dir, const char* program,
                                      const std::string& config_dir, std::vector<std::string> args);

}  // namespace sg::command
