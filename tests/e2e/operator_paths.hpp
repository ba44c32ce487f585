// The operator's own mail paths in the e2e Postfix, checked as streamguard
// must leave them: staff submission (SASL login required to relay), inbound
// mail for the host's own domain (delivered here by virtual(8)) and pickup
// (sendmail, as cron mail). Used before and after `postfix-conf --apply` and
// on the rendered harness alike, so "exactly as before" is one definition.
#pragma once

#include <string>

#include "tests/e2e/e2e_harness.hpp"

namespace sg::e2e {

// The maillog lines of one queue id.
std::string lines_of(const std::string& log, const std::string& queue_id);

// Sends one message through each path (recipients and subjects carry `tag`,
// so calls in one test do not see each other's mail) and records, as gtest
// failures, every way a path differs from a Postfix without streamguard:
// refused or not delivered, a policy request, a milter, a stream transport,
// a stream header or a DKIM signature. An unauthenticated client on the
// staff port must still be refused by the operator's own rule.
void expect_operator_paths_untouched(Harness& h, const std::string& tag);

}  // namespace sg::e2e
