// `streamguardctl status --config FILE [--json]`: one table from the
// /status of every daemon the configuration gives a status endpoint
// (policyd, the milter with a [milter] table, rampd): up or not, pid, when
// it started, its reloads, Redis, and below the table each thing an
// operator should act on (a daemon down, a failed last reload, Redis that
// would lose the counters, a daemon running another configuration file,
// OpenDKIM's files unreadable). Exit 1 when a daemon does not answer.
#pragma once

#include <string>
#include <vector>

namespace sg {

// `args` are those after "status". The exit status (0 all up, 1 one is
// down or the configuration is invalid, 2 usage).
int run_status(const std::vector<std::string>& args);

}  // namespace sg
