// The integration tests run the daemons' cores in-process (PolicydHarness,
// RampdHarness, the stores' clients), so this process must ignore SIGPIPE as
// the daemons' main does (server/daemon.cpp): hiredis writes with write(2),
// and a Redis a test kills would otherwise end the whole test binary.
#include <csignal>

namespace {

[[maybe_unused]] const bool kSigpipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

}  // namespace
