#include "preflight/preflight.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "formats/opendkim.hpp"
#include "rules/classifier.hpp"
#include "rules/ramp.hpp"

namespace sg::preflight {

namespace {

void lists(const Config& cfg, std::vector<std::string>& out) {
  for (const auto& [name, path] : cfg.lists) {
    std::vector<ListError> errors;
    DomainList::load(path, errors);
    for (const auto& e : errors) out.push_back(e.to_string() + " (list " + name + ")");
  }
}

// "2026-11-23", in the process's time zone.
std::string date_of(int64_t epoch_s) {
  const std::time_t t = static_cast<std::time_t>(epoch_s);
  std::tm tm{};
  char buf[32] = "?";
  if (::localtime_r(&t, &tm)) std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

// A warmup stamp counts the ramp's days; one in the future would keep the
// stream on day 0 until then.
void stamps(const Config& cfg, int64_t now_s, std::vector<std::string>& out) {
  constexpr int64_t kSlackS = 86'400;
  for (const auto& s : cfg.streams) {
    if (!s.ramp) continue;
    std::string error;
    const auto stamp = ramp::read_stamp(s.ramp->stamp, error);
    if (!stamp) {
      out.push_back(error + " (the warmup stamp of stream " + s.name + ")");
    } else if (*stamp > now_s + kSlackS) {
      out.push_back(s.ramp->stamp + ": " + std::to_string(*stamp) + " is in the future (" +
                    date_of(*stamp) + "): the warmup of stream " + s.name +
                    " would not start before then (want the epoch seconds it began)");
    }
  }
}

// Readable by this process and not empty.
std::string unreadable(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::string(errno == ENOENT ? "missing" : "cannot open") + " (" + std::strerror(errno) +
           ")";
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().find_first_not_of(" \t\r\n") == std::string::npos) return "empty";
  return "";
}

void token_files(const Config& cfg, std::vector<std::string>& out) {
  for (const auto& s : cfg.streams) {
    if (!s.listmonk || s.listmonk->api_token_file.empty()) continue;
    const std::string& path = s.listmonk->api_token_file;
    if (const std::string why = unreadable(path); !why.empty())
      out.push_back(path + ": " + why + " (the Listmonk API token file of stream " + s.name + ")");
  }
}

// The log rampd follows: it must be there (Postfix's maillog_file, or
// syslog's mail.log) for the breakers to see anything.
void maillog(const Config& cfg, std::vector<std::string>& out) {
  const std::string& path = cfg.rampd.maillog;
  if (path.empty() || ::access(path.c_str(), R_OK) == 0) return;
  out.push_back(path + ": " + (errno == ENOENT ? "missing" : "cannot read") + " (" +
                std::strerror(errno) +
                ") ([rampd] maillog: set Postfix's maillog_file to it, or name the log syslog "
                "writes mail to)");
}

void opendkim(const Config& cfg, std::vector<std::string>& out) {
  if (!cfg.milter.configured || cfg.milter.opendkim_conf.empty()) return;
  const auto loaded = dkim::load_opendkim(cfg.milter.opendkim_conf);
  for (const auto& e : loaded.errors) out.push_back(e.str() + " ([milter] opendkim_conf)");
}

}  // namespace

std::vector<std::string> check(const Config& cfg, int64_t now_s) {
  std::vector<std::string> out;
  lists(cfg, out);
  stamps(cfg, now_s, out);
  token_files(cfg, out);
  maillog(cfg, out);
  opendkim(cfg, out);
  return out;
}

}  // namespace sg::preflight
