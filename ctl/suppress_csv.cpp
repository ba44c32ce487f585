#include "ctl/suppress_csv.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>

#include "common/civil_time.hpp"
#include "common/clock.hpp"
#include "formats/csv.hpp"
#include "rules/suppression_csv.hpp"

namespace sg::suppress_cli {

namespace {

namespace net = boost::asio;

// Entries written per add_new(): a few Redis commands each.
constexpr std::size_t kBatch = 2000;
// Rejected rows printed one by one; the rest are counted.
constexpr std::size_t kRejectsShown = 10;

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "\r1,234,567 rows read, ..." on a terminal, at most twice a second.
class Progress {
 public:
  Progress() : tty_(::isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()) {}
  void show(std::size_t rows, const SuppressionStore::Added& a, bool last = false) {
    if (!tty_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!last && now - shown_ < std::chrono::milliseconds(500)) return;
    shown_ = now;
    std::fprintf(stderr, "\r%zu rows read, %lld added, %lld already suppressed (%.0f rows/s)%s",
                 rows, static_cast<long long>(a.added), static_cast<long long>(a.kept),
                 double(rows) / std::max(seconds(), 0.001), last ? "\n" : "");
  }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  bool tty_;
  std::chrono::steady_clock::time_point start_, shown_;
};

}  // namespace

bool Filter::matches(const suppression::Entry& e) const {
  if (!kind.empty() && kind != to_string(e.scope)) return false;
  if (!rule.empty() && rule != e.rule) return false;
  if (!stream.empty() && stream != e.stream) return false;
  if (e.learned_ms < learned_after_ms) return false;
  return learned_before_ms == 0 || e.learned_ms < learned_before_ms;
}

net::awaitable<int> import_csv(SuppressionStore& store, ImportArgs a,
                               std::vector<std::string> streams) {
  std::ifstream file;
  if (a.file != "-") {
    file.open(a.file);
    if (!file) {
      std::cerr << "streamguardctl: suppress import: cannot read " << a.file << "\n";
      co_return 1;
    }
  }
  std::istream& in = a.file == "-" ? std::cin : file;
  const std::string name = a.file == "-" ? "standard input" : a.file;
  const int64_t now = SystemClock{}.now_ms();
  suppression::ImportDefaults defaults{
      now, 365, 30, a.reason.empty() ? "listed in " + base_name(name) : a.reason};
  if (a.days > 0) defaults.address_days = defaults.domain_days = static_cast<uint32_t>(a.days);
  suppression::ImportMapper mapper(defaults);
  csv::Reader reader(in);
  csv::Record record;
  std::vector<suppression::Entry> batch;
  SuppressionStore::Added total;
  std::size_t rows = 0, rejected = 0, skipped = 0;
  std::map<std::string, std::size_t> skip_reasons;
  Progress progress;
  bool more = true;
  while (more) {
    more = reader.next(record);
    if (more) {
      auto o = mapper.map(record);
      if (o.kind != suppression::ImportMapper::Kind::header) ++rows;
      if (o.kind == suppression::ImportMapper::Kind::entry) {
        batch.push_back(std::move(o.entry));
      } else if (o.kind == suppression::ImportMapper::Kind::skipped) {
        ++skipped;
        ++skip_reasons[o.why];
      } else if (o.kind == suppression::ImportMapper::Kind::rejected) {
        if (rejected++ < kRejectsShown)
          std::cerr << name << ":" << record.line << ": rejected: " << o.why << "\n";
      }
    }
    if (batch.size() < kBatch && more) continue;
    if (a.dry_run) {
      total.added += static_cast<int64_t>(batch.size());
    } else if (!batch.empty()) {
      auto adding = store.add_new(std::move(batch), streams, now);
      auto added = co_await std::move(adding);
      if (!added.value) {
        progress.show(rows, total, true);
        std::cerr << "streamguardctl: suppress import: " << added.error << " (after " << rows
                  << " rows of " << name << "; what was written stays: run it again)\n";
        co_return 1;
      }
      total.added += added.value->added;
      total.kept += added.value->kept;
    }
    batch.clear();
    progress.show(rows, total, !more);
  }
  if (rejected > kRejectsShown)
    std::cerr << name << ": " << rejected - kRejectsShown << " more rows rejected\n";
  std::cout << name << ": " << mapper.layout() << "\n" << rows << " rows";
  if (a.dry_run)
    std::cout << " (dry run, nothing written): " << total.added
              << " to suppress unless already suppressed, ";
  else
    std::cout << ": " << total.added << " added, " << total.kept
              << " already suppressed (kept as they were), ";
  std::cout << skipped << " skipped, " << rejected << " rejected, in " << std::fixed
            << std::setprecision(1) << progress.seconds() << " s\n";
  for (const auto& [why, n] : skip_reasons) std::cout << "  skipped " << n << ": " << why << "\n";
  if (!reader.error().empty()) {
    std::cerr << name << ": " << reader.error()
              << (a.dry_run ? "; the rows before it were read\n"
                            : "; the rows before it were imported\n");
    co_return 1;
  }
  co_return rejected > 0 ? 1 : 0;
}

net::awaitable<int> export_csv(SuppressionStore& store, Filter f, std::string out,
                               bool domains_only) {
  std::ofstream file;
  if (!out.empty() && out != "-") {
    file.open(out, std::ios::trunc);
    if (!file) {
      std::cerr << "streamguardctl: suppress export: cannot write " << out << "\n";
      co_return 1;
    }
  }
  std::ostream& os = file.is_open() ? static_cast<std::ostream&>(file) : std::cout;
  const int64_t now = SystemClock{}.now_ms();
  std::size_t written = 0;
  if (domains_only) {
    auto listing = store.domains(now);
    auto got = co_await std::move(listing);
    if (!got.value) {
      std::cerr << "streamguardctl: suppress export: " << got.error << "\n";
      co_return 1;
    }
    os << "# Domains streamguard suppressed (streamguardctl suppress export --domains, "
       << utc_text(now) << ").\n# Each line: the domain, then the rule that suppressed it "
       << "(manual: by hand, import: imported),\n# when it ends and the reply or reason. Read "
       << "them before adding a domain to a list.\n";
    for (const auto& e : *got.value) {
      if (!f.matches(e)) continue;
      os << e.key << "  # " << e.rule << ", until " << utc_text(e.until_ms) << ": " << e.text
         << "\n";
      ++written;
    }
  } else {
    os << suppression::kExportHeader << "\n";
    std::string cursor = "0";
    do {
      auto paging = store.page(cursor, 1000);
      auto p = co_await std::move(paging);
      if (!p.value) {
        std::cerr << "streamguardctl: suppress export: " << p.error << "\n";
        co_return 1;
      }
      cursor = p.value->cursor;
      for (const auto& [field, rec] : p.value->entries) {
        const auto e = suppression::parse_entry(field, rec);
        if (!e || e->until_ms <= now || !f.matches(*e)) continue;
        os << suppression::export_row(*e) << "\n";
        ++written;
      }
    } while (cursor != "0");
  }
  os.flush();
  if (!os) {
    std::cerr << "streamguardctl: suppress export: writing " << (out.empty() ? "-" : out)
              << " failed\n";
    co_return 1;
  }
  std::cerr << written
            << (domains_only ? (written == 1 ? " domain" : " domains")
                             : (written == 1 ? " entry" : " entries"))
            << " exported\n";
  co_return 0;
}

}  // namespace sg::suppress_cli
