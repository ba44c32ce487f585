// streamguard-milter's default engine ([milter] engine = "libmilter"): Sendmail's
// libmilter, a thread per connection, over the steps both engines share
// (milter_daemon.hpp).
#pragma once

#include <signal.h>

#include <functional>

#include "common/endpoint.hpp"
#include "milter/milter_daemon.hpp"

namespace sg {

// The signals the libmilter engine's main thread takes: run_milter blocks
// them in every thread before any starts.
sigset_t libmilter_signals();

// Serves `d` on `listen` until SIGTERM or SIGINT (or libmilter stops on its
// own); the exit status (2: the socket cannot be opened). Runs libmilter's
// loop in a thread of its own while the calling (main) thread waits for the
// signals: libmilter's own signal thread would stop the milter on SIGHUP,
// and Linux hands a signal sent to the process to its main thread first
// whenever that thread waits for it. SIGHUP and SIGUSR1 call reload(why),
// which must not block. Calls announce() once listening.
int serve_libmilter(MilterDaemon& d, const Endpoint& listen, const std::function<void()>& announce,
                    const std::function<void(const char* why)>& reload);

}  // namespace sg
