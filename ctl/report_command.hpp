// `streamguardctl report --config FILE [--json]`: the sender's daily check
// in one screen (report_view.hpp), from the /status of the daemons the
// configuration names. Exit 1 when a daemon does not answer.
#pragma once

#include <string>
#include <vector>

namespace sg {

// `args` are those after "report": 0 all answered, 1 a daemon is down or the
// configuration is invalid, 2 usage.
int run_report(const std::vector<std::string>& args);

}  // namespace sg
