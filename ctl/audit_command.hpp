// `streamguardctl audit-log --config FILE --log MAILLOG [--since T]`: the
// isolation proof (rules/isolation_audit.hpp) over a Postfix log, a
// maillog_file or a classic syslog file, plain or gzip-compressed (a
// rotated .gz): a table per stream, then every message that left through
// another stream's path or one of no stream. Exit status 0 when there is
// none, 1 when there is one (or the log cannot be read, or the config is
// invalid), 2 on a usage error.
#pragma once

#include <string>
#include <vector>

namespace sg {

int run_audit_log(const std::vector<std::string>& args);

}  // namespace sg
