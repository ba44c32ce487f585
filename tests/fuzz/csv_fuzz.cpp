// libFuzzer target: CSV files as `streamguardctl suppress import` reads them
// (formats/csv.hpp, rules/suppression_csv.hpp): anything a spreadsheet, a
// Listmonk export or a hand-made list may hold. Traps on a broken invariant:
//   - records come in order of their first line, no cell longer than
//     kMaxRecord bytes, and the reader stops at the first error;
//   - every cell written back with csv::quote() reads back the same (cells
//     without a carriage return: a CR before a line end is part of it);
//   - every row the import mapper makes an entry of has an address or a
//     domain key, a printable reason, the rule "import" and an until after
//     now; its export row reads back as a CSV record of 8 cells.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "formats/csv.hpp"
#include "rules/suppression_csv.hpp"

namespace {

namespace sup = sg::suppression;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::vector<std::string> read_back(const std::string& text) {
  std::istringstream in(text);
  sg::csv::Reader r(in);
  sg::csv::Record rec;
  check(r.next(rec));
  return rec.cells;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  sg::csv::Reader reader(in);
  sg::csv::Record rec;
  constexpr int64_t kNow = 1'795'428'000'000;
  sup::ImportMapper mapper(sup::ImportDefaults{kNow, 365, 30, "listed in fuzz.csv"});
  std::size_t last_line = 0;
  while (reader.next(rec)) {
    check(rec.line > last_line);
    last_line = rec.line;
    check(!rec.cells.empty());
    std::string line;
    bool has_cr = false;
    for (std::size_t i = 0; i < rec.cells.size(); ++i) {
      check(rec.cells[i].size() <= sg::csv::kMaxRecord);
      has_cr = has_cr || rec.cells[i].find('\r') != std::string::npos;
      line += (i ? "," : "") + sg::csv::quote(rec.cells[i]);
    }
    // Quoting can lengthen a record past kMaxRecord (every '"' doubles).
    if (!has_cr && !(rec.cells.size() == 1 && rec.cells[0].empty()) &&
        line.size() <= sg::csv::kMaxRecord)
      check(read_back(line) == rec.cells);
    const auto o = mapper.map(rec);
    if (o.kind != sup::ImportMapper::Kind::entry) continue;
    check(!o.entry.key.empty() && o.entry.rule == "import" && o.entry.until_ms > kNow);
    for (char c : o.entry.text) check(c >= 0x20 && c <= 0x7e);
    check(!sup::field_for_target(o.entry.key).empty());
    check(read_back(sup::export_row(o.entry)).size() == 8);
  }
  // After an error nothing more comes.
  if (!reader.error().empty()) check(!reader.next(rec));
  return 0;
}
