// The integration tests run the daemons' cores in-process (PolicydHarness,
// RampdHarness, the stores' clients), so this process must survive SIGPIPE
// as the daemons do (server/daemon.cpp): hiredis writes with write(2), and a
// Redis a test kills would otherwise end the whole test binary. A handler
// that does nothing, not SIG_IGN: an ignored signal stays ignored across
// exec, and the programs the tests start (the daemons, whose own SIGPIPE
// handling PolicydBinary checks) must start with the default.
#include <csignal>

namespace {

void sigpipe_noop(int) {}

[[maybe_unused]] const bool kSigpipeSurvived = [] {
  std::signal(SIGPIPE, sigpipe_noop);
  return true;
}();

}  // namespace
