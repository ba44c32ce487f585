// `streamguardctl classify --config FILE IN.csv|- --column NAME --out DIR
// [--concurrency N] [--dns IP[:PORT] | --no-mx]`: the audience split the
// sender's list builder does by hand, with the lists and MX rules the
// daemons enforce (recipient/check_recipient(), policyd's own path). For
// each stream it writes DIR/STREAM/{institutional,consumer,direct,
// excluded}.csv, every input column kept (excluded.csv adds why), and
// DIR/rejects.csv for rows without a usable address (with their line).
// Addresses are deduplicated (case of the domain ignored); MX lookups run
// at most --concurrency at once, cached.
#pragma once

#include <string>
#include <vector>

namespace sg {

// `args` are those after "classify": 0 done, 1 the configuration or the
// input cannot be read or an output cannot be written, 2 usage.
int run_classify(const std::vector<std::string>& args);

}  // namespace sg
