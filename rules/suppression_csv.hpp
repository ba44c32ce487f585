// Suppression entries to and from CSV (`streamguardctl suppress import` and
// `export`): what the sender already keeps elsewhere comes in, what
// streamguard learned goes out to the audience builder.
//
// Import reads, by the first row:
//   - a header naming the address column (email, e-mail, email_address,
//     address, recipient, subscriber_email, domain or target): columns are
//     found by name, others ignored. Listmonk's subscriber export is one (only
//     rows whose `status` is blocklisted are taken: a full export also holds
//     live subscribers); Listmonk's bounce table another (a `type` column:
//     hard and complaint taken, soft skipped); streamguard's own export a
//     third, so an export imports back.
//   - otherwise a plain list: ADDRESS-OR-DOMAIN[,REASON[,UNTIL]] per row.
// REASON (reason, note, comment) is what a refused client is told; UNTIL
// (until, expires, expires_at, expiry) a date ("2027-06-17", optionally
// with a time, UTC); without one an entry lasts the default days for its
// kind. A row is an entry, skipped (said why: not blocklisted, a soft
// bounce, already ended) or rejected (not an address or a domain, a date
// that is not one): never silently dropped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "formats/csv.hpp"
#include "rules/suppression.hpp"

namespace sg::suppression {

struct ImportDefaults {
  int64_t now_ms = 0;
  uint32_t address_days = 365;
  uint32_t domain_days = 30;
  std::string reason;  // for rows with none: "listed in blocklist.csv"
};

class ImportMapper {
 public:
  explicit ImportMapper(ImportDefaults d) : d_(std::move(d)) {}

  enum class Kind { entry, header, skipped, rejected };
  struct Outcome {
    Kind kind = Kind::rejected;
    Entry entry;      // Kind::entry
    std::string why;  // skipped / rejected: what about the row
  };
  Outcome map(const csv::Record& r);
  // "plain list" or "header: email (column 2), status (column 5)", for the summary.
  std::string layout() const;

 private:
  struct Column {
    int index = -1;
    std::string name;
  };
  void read_header(const csv::Record& r);
  std::string cell(const csv::Record& r, const Column& c) const;

  ImportDefaults d_;
  bool first_ = true;
  bool header_ = false;
  Column target_{0, ""}, reason_{1, ""}, until_{2, ""}, status_, type_;
};

// streamguard's export: a header line, then one line per entry.
inline constexpr const char* kExportHeader = "kind,target,until,learned,rule,stream,dsn,reason";
std::string export_row(const Entry& e);

}  // namespace sg::suppression
