// `streamguardctl explain --config FILE --port P --recipient ADDR`: what
// streamguard-policyd would answer for one recipient submitted on one port,
// and why, step by step: the stream, the lists the domain is on, the mailbox
// provider (static map or MX lookup, as policyd does it), then the caps in
// force, their usage, breakers and suppression as Redis holds them now,
// through the same limiter script policyd charges with, in a dry run:
// nothing is charged (store/lua/limiter.lua).
#pragma once

#include <string>
#include <vector>

namespace sg {

// Exit 0 when policyd would accept (DUNNO), 1 when it would refuse, defer
// or hold (or a shadow stream would), 2 on a usage error, 3 when the
// configuration is invalid or Redis cannot be asked.
int run_explain(const std::vector<std::string>& args);

}  // namespace sg
