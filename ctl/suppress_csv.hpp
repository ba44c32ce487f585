// `streamguardctl suppress import|export` (ctl/suppress_command.cpp parses
// the command line): a CSV file of addresses and domains into the
// suppression set, in batches, keeping what is already there (so an import
// run twice adds nothing the second time), with a progress line on a
// terminal; and the set out as CSV for the audience builder, or its domains
// alone as a domain list file (the dead-ISP list grows from evidence).
// rules/suppression_csv.hpp reads and writes the rows.
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "rules/suppression.hpp"
#include "store/suppression_store.hpp"

namespace sg::suppress_cli {

// Which entries list and export show.
struct Filter {
  std::string kind, rule, stream;  // "" for any
  int64_t learned_after_ms = 0;    // --newer-than
  int64_t learned_before_ms = 0;   // --older-than; 0 for no bound
  bool matches(const suppression::Entry& e) const;
};

struct ImportArgs {
  std::string file;    // "-" for standard input
  std::string reason;  // for rows with none; "" for "listed in FILE"
  int days = 0;        // for rows without an until; 0 for 365 (address) / 30 (domain)
  bool dry_run = false;
};

// Exit status: 0 all rows read, 1 a row rejected, the file unreadable or Redis failed.
boost::asio::awaitable<int> import_csv(SuppressionStore& store, ImportArgs a,
                                       std::vector<std::string> streams);

// To `out` ("-" or "" for standard output). domains_only: the live domain
// entries as a domain list file, one per line with its rule and reason as a
// comment.
boost::asio::awaitable<int> export_csv(SuppressionStore& store, Filter f, std::string out,
                                       bool domains_only);

}  // namespace sg::suppress_cli
