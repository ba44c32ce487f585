#include "ctl/classify_command.hpp"

#include <unistd.h>

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <unordered_set>

#include "common/clock.hpp"
#include "common/dns_server.hpp"
#include "common/metrics.hpp"
#include "common/text.hpp"
#include "formats/csv.hpp"
#include "recipient/mx_resolver.hpp"
#include "recipient/recipient_check.hpp"
#include "recipient/runtime.hpp"
#include "rules/classifier.hpp"

namespace sg {
namespace {

namespace net = boost::asio;
namespace fs = std::filesystem;

struct ClassifyArgs {
  std::string config, input, column, out, dns;
  bool no_mx = false;
  unsigned concurrency = 16;
};

int classify_usage(const std::string& why) {
  std::cerr << "streamguardctl: " << why
            << "\nusage: streamguardctl classify --config FILE IN.csv|- --column NAME --out DIR\n"
               "                      [--concurrency N] [--dns IP[:PORT] | --no-mx]\n";
  return 2;
}

std::optional<ClassifyArgs> parse_classify_args(const std::vector<std::string>& args,
                                                std::string& why) {
  ClassifyArgs a;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool has = i + 1 < args.size();
    std::string* value = args[i] == "--config"   ? &a.config
                         : args[i] == "--column" ? &a.column
                         : args[i] == "--out"    ? &a.out
                         : args[i] == "--dns"    ? &a.dns
                                                 : nullptr;
    if (value && has) {
      *value = args[++i];
    } else if (args[i] == "--no-mx") {
      a.no_mx = true;
    } else if (args[i] == "--concurrency" && has) {
      const std::string& n = args[++i];
      if (n.empty() || n.size() > 4 || n.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(n) == 0 || std::stoul(n) > 1000) {
        why = "--concurrency '" + n + "' is not a number from 1 to 1000";
        return std::nullopt;
      }
      a.concurrency = unsigned(std::stoul(n));
    } else if (!value && a.input.empty() && (args[i] == "-" || !args[i].starts_with("--"))) {
      a.input = args[i];
    } else {
      why = "unexpected '" + args[i] + "'";
      return std::nullopt;
    }
  }
  if (a.config.empty() || a.input.empty() || a.column.empty() || a.out.empty()) {
    why = "needs --config FILE, the input CSV (or - for stdin), --column NAME and --out DIR";
    return std::nullopt;
  }
  if (std::string e; !a.dns.empty() && !parse_dns_server(a.dns, e)) {
    why = "--dns: " + e;
    return std::nullopt;
  }
  if (a.no_mx && !a.dns.empty()) {
    why = "--dns and --no-mx together: choose one";
    return std::nullopt;
  }
  return a;
}

constexpr const char* kCategories[] = {"institutional", "consumer", "direct", "excluded"};

// One open output file with its header written.
struct Out {
  std::ofstream file;
  uint64_t rows = 0;
};

std::string csv_line(const std::vector<std::string>& cells) {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i) line += ',';
    line += csv::quote(cells[i]);
  }
  return line + "\n";
}

// A row's answer for every stream, kept until the rows before it are written,
// so each output keeps the input's order whatever the lookups' order.
struct Outcome {
  csv::Record record;
  std::vector<std::pair<int, std::string>> per_stream;  // category index, reason
};

class Classify {
 public:
  Classify(const Runtime& rt, const ClassifyArgs& a, MxLookup* mx, std::istream& in)
      : rt_(rt), args_(a), mx_(mx), reader_(in) {}

  // Opens the outputs and reads the header; "" or what went wrong.
  std::string open();
  net::awaitable<void> worker();
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  void summary(std::ostream& o, double seconds) const;
  // Flushes and closes every output; "" or the first that failed (a full
  // disk must not pass for a short audience).
  std::string finish();
  uint64_t rows() const { return rows_; }

 private:
  net::awaitable<Outcome> decide(csv::Record record, std::string address, std::string domain);
  void reject(const csv::Record& r, const std::string& why);
  void settle(uint64_t seq, Outcome o);

  const Runtime& rt_;
  const ClassifyArgs& args_;
  MxLookup* mx_;
  csv::Reader reader_;
  std::size_t column_ = 0;
  std::vector<std::string> header_;
  std::map<std::string, std::vector<Out>> outs_;  // stream -> one per category
  Out rejects_;
  std::unordered_set<std::string> seen_;
  uint64_t rows_ = 0, duplicates_ = 0, next_seq_ = 0, next_write_ = 0;
  std::map<uint64_t, Outcome> waiting_;  // decided, behind an earlier row
  std::string error_;
};

std::string Classify::open() {
  csv::Record head;
  if (!reader_.next(head))
    return reader_.error().empty() ? "the input is empty: a header row is needed" : reader_.error();
  header_ = head.cells;
  auto it = std::find(header_.begin(), header_.end(), args_.column);
  if (it == header_.end()) {
    std::string names;
    for (const auto& h : header_) names += (names.empty() ? "" : ", ") + h;
    return "no column '" + args_.column + "' in the header (its columns: " + names + ")";
  }
  column_ = std::size_t(it - header_.begin());
  std::error_code ec;
  for (const auto& s : rt_.config->streams) {
    const fs::path dir = fs::path(args_.out) / s.name;
    fs::create_directories(dir, ec);
    if (ec) return dir.string() + ": " + ec.message();
    auto& files = outs_[s.name];
    files.resize(std::size(kCategories));
    for (std::size_t c = 0; c < std::size(kCategories); ++c) {
      const fs::path p = dir / (std::string(kCategories[c]) + ".csv");
      files[c].file.open(p, std::ios::trunc);
      if (!files[c].file) return p.string() + ": cannot be written";
      auto cells = header_;
      if (c == 3) cells.push_back("streamguard_reason");
      files[c].file << csv_line(cells);
    }
  }
  const fs::path p = fs::path(args_.out) / "rejects.csv";
  rejects_.file.open(p, std::ios::trunc);
  if (!rejects_.file) return p.string() + ": cannot be written";
  auto cells = header_;
  cells.insert(cells.begin(), {"line", "reason"});
  rejects_.file << csv_line(cells);
  return "";
}

std::string Classify::finish() {
  std::string failed;
  auto close = [&](Out& o, const fs::path& p) {
    o.file.close();
    if (!o.file && failed.empty()) failed = p.string() + ": writing failed";
  };
  for (auto& [stream, files] : outs_)
    for (std::size_t c = 0; c < files.size(); ++c)
      close(files[c], fs::path(args_.out) / stream / (std::string(kCategories[c]) + ".csv"));
  close(rejects_, fs::path(args_.out) / "rejects.csv");
  return failed;
}

void Classify::reject(const csv::Record& r, const std::string& why) {
  auto cells = r.cells;
  cells.insert(cells.begin(), {std::to_string(r.line), why});
  rejects_.file << csv_line(cells);
  ++rejects_.rows;
}

net::awaitable<Outcome> Classify::decide(csv::Record record, std::string address,
                                         std::string domain) {
  Outcome o{std::move(record), {}};
  const auto c = rt_.classifier.classify(domain);
  for (const auto& s : rt_.config->streams) {
    auto checking = check_recipient(rt_, s, address, mx_);
    RecipientCheck rc = co_await std::move(checking);
    if (rc.verdict) {
      // policyd's own words, after "REJECT 5.7.1 streamguard: ".
      const auto& reply = rc.verdict->reply;
      const auto at = reply.find("streamguard: ");
      o.per_stream.push_back(
          {3, at == std::string::npos ? rc.verdict->reason : reply.substr(at + 13)});
    } else {
      o.per_stream.push_back({c.on("direct_hisp") ? 2 : c.on("consumer") ? 1 : 0, ""});
    }
  }
  co_return o;
}

void Classify::settle(uint64_t seq, Outcome o) {
  waiting_.emplace(seq, std::move(o));
  for (auto it = waiting_.begin(); it != waiting_.end() && it->first == next_write_;
       it = waiting_.erase(it), ++next_write_) {
    std::size_t i = 0;
    for (const auto& s : rt_.config->streams) {
      const auto& [category, reason] = it->second.per_stream[i++];
      auto& out = outs_[s.name][std::size_t(category)];
      auto cells = it->second.record.cells;
      if (category == 3) cells.push_back(reason);
      out.file << csv_line(cells);
      ++out.rows;
    }
  }
}

net::awaitable<void> Classify::worker() {
  csv::Record r;
  while (error_.empty() && reader_.next(r)) {
    ++rows_;
    if (r.cells.size() <= column_) {
      reject(r, "no cell in column '" + args_.column + "'");
      continue;
    }
    std::string address(text::trim(r.cells[column_]));
    const auto domain = recipient_domain(address);
    const auto at = address.rfind('@');
    if (!domain || at == 0 || domain->find('.') == std::string::npos) {
      reject(r, address.empty() ? "no address" : "'" + address + "' is not a mail address");
      continue;
    }
    if (!seen_.insert(address.substr(0, at) + "@" + *domain).second) {
      ++duplicates_;
      continue;
    }
    const uint64_t seq = next_seq_++;
    auto deciding = decide(std::move(r), std::move(address), *domain);
    Outcome o = co_await std::move(deciding);
    settle(seq, std::move(o));
    r = csv::Record{};
  }
  if (error_.empty() && !reader_.error().empty()) error_ = reader_.error();
}

void Classify::summary(std::ostream& o, double seconds) const {
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.2f s (%.0f rows/s)", seconds,
                seconds > 0 ? double(rows_) / seconds : 0.0);
  o << "classified " << rows_ << " rows in " << rate << ": " << duplicates_
    << " duplicate address(es) dropped, " << rejects_.rows << " row(s) without an address in "
    << (fs::path(args_.out) / "rejects.csv").string() << "\n";
  std::vector<std::vector<std::string>> t = {
      {"STREAM", "INSTITUTIONAL", "CONSUMER", "DIRECT", "EXCLUDED"}};
  for (const auto& s : rt_.config->streams) {
    t.push_back({s.name});
    for (const auto& f : outs_.at(s.name)) t.back().push_back(std::to_string(f.rows));
  }
  for (const auto& row : t) {
    for (std::size_t i = 0; i < row.size(); ++i)
      o << row[i]
        << (i + 1 < row.size() ? std::string(16 - std::min<std::size_t>(15, row[i].size()), ' ')
                               : "\n");
  }
  o << "written to " << args_.out << "/STREAM/{institutional,consumer,direct,excluded}.csv"
    << (mx_ ? "" : "; no MX lookups: a custom domain counts by its static lists only") << "\n";
}

}  // namespace

int run_classify(const std::vector<std::string>& args) {
  std::string why;
  auto a = parse_classify_args(args, why);
  if (!a) return classify_usage(why);
  DnsChoice choice{{}, a->no_mx};
  if (!a->dns.empty()) choice.servers = {a->dns};
  auto built = load_runtime(a->config, choice);
  if (!built.runtime) {
    for (const auto& e : built.errors) std::cerr << e.to_string() << "\n";
    return 1;
  }
  const Runtime& rt = *built.runtime;

  std::ifstream file;
  if (a->input != "-") {
    file.open(a->input, std::ios::binary);
    if (!file) {
      std::cerr << "streamguardctl: classify: " << a->input << ": " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  net::io_context io(1);
  SystemClock clock;
  metrics::Registry registry;
  std::unique_ptr<MxLookup> mx;
  if (rt.config->dns.enabled) mx = std::make_unique<MxLookup>(io, rt.config->dns, clock, registry);
  Classify c(rt, *a, mx.get(), a->input == "-" ? std::cin : file);
  if (auto e = c.open(); !e.empty()) {
    std::cerr << "streamguardctl: classify: " << a->input << ": " << e << "\n";
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  unsigned running = a->concurrency;
  net::steady_timer progress(io);
  const bool tty = ::isatty(STDERR_FILENO);
  for (unsigned i = 0; i < a->concurrency; ++i)
    net::co_spawn(io, c.worker(), [&](std::exception_ptr) {
      if (--running == 0) progress.cancel();
    });
  // A progress line on a terminal, rewritten in place.
  std::function<void()> tick = [&] {
    progress.expires_after(std::chrono::milliseconds(250));
    progress.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      std::cerr << "\r" << c.rows() << " rows"
                << (mx ? ", " + std::to_string(mx->cached()) + " domains' MX known" : "")
                << std::flush;
      tick();
    });
  };
  if (tty) tick();
  io.run();
  if (tty) std::cerr << "\r\033[K";
  if (c.failed()) {
    std::cerr << "streamguardctl: classify: " << a->input << ": " << c.error()
              << " (the rows before it are written)\n";
    return 1;
  }
  if (auto e = c.finish(); !e.empty()) {
    std::cerr << "streamguardctl: classify: " << e << "\n";
    return 1;
  }
  c.summary(std::cout,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}

}  // namespace sg
