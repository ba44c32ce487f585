#include "ctl/audit_command.hpp"

#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>

#include "common/civil_time.hpp"
#include "common/config.hpp"
#include "formats/maillog.hpp"
#include "rules/isolation_audit.hpp"

namespace sg {

namespace {

int audit_usage(const std::string& why) {
  std::cerr << "streamguardctl: audit-log: " << why << "\n"
            << "usage: streamguardctl audit-log --config FILE --log MAILLOG[.gz] [--since "
               "2026-12-03[THH:MM]]\n";
  return 2;
}

// The line's time in ms, or nullopt when its stamp does not read: an ISO
// stamp as written; a classic one in this year and the host's zone (it
// carries neither).
std::optional<int64_t> line_time(std::string_view line, int year, int32_t offset_s) {
  if (line.size() >= 4 && line[0] >= '0' && line[0] <= '9')
    return maillog::iso_time_ms(line.substr(0, line.find(' ')));
  return line.size() >= 15 ? maillog::syslog_time_ms(line.substr(0, 15), year, offset_s)
                           : std::nullopt;
}

std::string pad(std::string s, std::size_t n) {
  if (s.size() < n) s.resize(n, ' ');
  return s + " ";
}

}  // namespace

int run_audit_log(const std::vector<std::string>& args) {
  std::string config, log, since;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool has = i + 1 < args.size();
    if (args[i] == "--config" && has)
      config = args[++i];
    else if (args[i] == "--log" && has)
      log = args[++i];
    else if (args[i] == "--since" && has)
      since = args[++i];
    else
      return audit_usage("unexpected '" + args[i] + "'");
  }
  if (config.empty() || log.empty()) return audit_usage("needs --config FILE and --log MAILLOG");
  std::optional<int64_t> since_ms;
  if (!since.empty() && !(since_ms = parse_utc_text(since)))
    return audit_usage("--since '" + since +
                       "' is not a date (2026-12-03 or 2026-12-03T08:00, UTC)");
  auto loaded = load_config(config);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return 1;
  }
  // gzopen reads a plain file as it is, and a .gz uncompressed.
  gzFile in = gzopen(log.c_str(), "rb");
  if (!in) {
    std::cerr << "streamguardctl: audit-log: cannot read " << log << "\n";
    return 1;
  }
  gzbuffer(in, 1 << 17);
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  const int year = local.tm_year + 1900;
  const auto offset_s = static_cast<int32_t>(local.tm_gmtoff);
  audit::IsolationAudit audit(*loaded.config);
  const auto started = std::chrono::steady_clock::now();
  std::string line;
  char buf[16384];
  uint64_t skipped = 0;
  while (gzgets(in, buf, sizeof buf)) {
    line += buf;
    if (line.empty() || (line.back() != '\n' && !gzeof(in))) continue;  // a longer line
    if (since_ms) {
      const auto t = line_time(line, year, offset_s);
      if (t && *t < *since_ms) {
        ++skipped;
        line.clear();
        continue;
      }
    }
    audit.feed(line);
    line.clear();
  }
  int err = Z_OK;
  const char* msg = gzerror(in, &err);
  gzclose(in);
  if (err != Z_OK && err != Z_STREAM_END) {
    std::cerr << "streamguardctl: audit-log: reading " << log << ": " << msg << "\n";
    return 1;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "%s: %llu lines in %.1f s%s\n\n", log.c_str(), static_cast<unsigned long long>(audit.lines()),
      secs,
      since_ms ? (", " + std::to_string(skipped) + " before " + since + " skipped").c_str() : "");
  std::cout << pad("STREAM", 12) << pad("SUBMITTED", 10) << pad("SENT", 8) << pad("DEFERRED", 9)
            << pad("BOUNCED", 8) << pad("EXPIRED", 8) << pad("BREACHES", 9) << "EGRESS\n";
  for (const auto& s : loaded.config->streams) {
    const auto& c = audit.streams().at(s.name);
    auto n = [&c](maillog::Status st) { return std::to_string(c.results[static_cast<int>(st)]); };
    std::cout << pad(s.name, 12) << pad(std::to_string(c.submitted), 10)
              << pad(n(maillog::Status::sent), 8) << pad(n(maillog::Status::deferred), 9)
              << pad(n(maillog::Status::bounced), 8) << pad(n(maillog::Status::expired), 8)
              << pad(std::to_string(c.breaches), 9) << s.postfix.transport << " "
              << (s.postfix.bind_address.empty() ? "(system's address)" : s.postfix.bind_address)
              << " " << (s.postfix.helo_name.empty() ? "(myhostname)" : s.postfix.helo_name)
              << "\n";
  }
  std::cout << "\nmail of no stream (staff, cron, relay): " << audit.other_mail()
            << " delivery results\n"
            << "deliveries of messages that came in before this log: " << audit.unknown_origin()
            << " (not checked)\n";
  if (audit.breach_count() == 0) {
    std::cout << "\nno message left through another stream's path or one of no stream\n";
    return 0;
  }
  std::cout << "\n" << audit.breach_count() << " delivery result(s) through the wrong path:\n";
  for (const auto& b : audit.breaches())
    std::cout << "  " << b.timestamp << " " << b.queue_id << " to=<" << b.recipient
              << "> status=" << b.status << ": came in by " << b.came_in << ", left by "
              << b.left_by << "\n";
  if (audit.breach_count() > audit.breaches().size())
    std::cout << "  ... and " << audit.breach_count() - audit.breaches().size() << " more\n";
  return 1;
}

}  // namespace sg
