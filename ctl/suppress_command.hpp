// `streamguardctl suppress show|add|remove|list`: the suppressed addresses
// and domains in Redis (rules/suppression.hpp), as the operator sees them:
// why one is suppressed and until when, a hand-made entry with its reason,
// one taken out early, and the whole set filtered by kind, rule or stream.
// Writes go to the whole set and every stream's copy, as rampd writes them
// (store/suppression_store.hpp).
#pragma once

#include <string>
#include <vector>

namespace sg {

// `args` are those after "suppress". The exit status: 0 done (show: the
// address or domain is suppressed), 1 show found nothing or Redis failed,
// 2 usage.
int run_suppress(const std::vector<std::string>& args);

extern const char* const kSuppressUsage;

}  // namespace sg
