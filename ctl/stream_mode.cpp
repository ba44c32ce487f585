// run_stream_mode (ctl/stream_mode.hpp): the three steps, each a function
// that prints what it did and says whether to go on.
#include "ctl/stream_mode.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "ctl/daemon_status.hpp"
#include "ctl/postfix_conf_command.hpp"
#include "preflight/preflight.hpp"

namespace sg {
namespace {

using namespace std::chrono_literals;

struct Args {
  std::string stream, config;
  std::optional<std::string> postfix_config;
};

// A daemon as /status shows it.
struct Daemon {
  std::string name;  // "streamguard-policyd"
  Endpoint status;   // its first status endpoint
  pid_t pid = 0;
};

std::string parse_args(const std::vector<std::string>& args, Args& a) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool has_value = i + 1 < args.size() && !args[i + 1].empty();
    if (args[i] == "--config" && has_value && a.config.empty()) {
      a.config = args[++i];
    } else if (args[i] == "--postfix-config" && has_value && !a.postfix_config) {
      a.postfix_config = args[++i];
    } else if (!args[i].starts_with("-") && a.stream.empty()) {
      a.stream = args[i];
    } else {
      return "unexpected '" + args[i] + "'";
    }
  }
  if (a.stream.empty()) return "name the STREAM";
  if (a.config.empty()) return "--config FILE is needed";
  return "";
}

// The stream's mode as this daemon's /status shows it ("" if not shown).
std::string mode_on_status(const Daemon& d, const std::string& stream, std::string& error) {
  const auto j = fetch_status(d.status, error);
  if (!j || !j->contains("streams")) return "";
  const auto& streams = (*j)["streams"];
  if (streams.is_object())  // rampd: {"NAME": {...}}
    return streams.contains(stream) ? streams[stream].value("mode", "") : "";
  for (const auto& s : streams)  // policyd and the milter: [{"name": ...}]
    if (s.value("name", "") == stream) return s.value("mode", "");
  return "";
}

// Every daemon with a status endpoint, with its pid; false (and why) if one
// does not answer.
bool find_daemons(const Config& cfg, std::vector<Daemon>& out) {
  std::vector<Daemon> want;
  for (const auto& d : daemon_endpoints(cfg)) {
    if (d.status) {
      want.push_back({d.name, *d.status});
    } else if (d.section != "[policyd]") {
      // Cannot be found or reloaded from here: it would keep the old mode.
      std::cerr << "streamguardctl: warning: " << d.section << " status is not set in " << cfg.path
                << ": if " << d.name << " runs, reload it yourself (systemctl reload " << d.name
                << ")\n";
    }
  }
  if (cfg.policyd.status.empty()) {
    std::cerr << "streamguardctl: [policyd] status is not set in " << cfg.path
              << ": the daemons are found (and reloaded) through their status endpoints\n";
    return false;
  }
  for (auto& d : want) {
    std::string error;
    const auto j = fetch_status(d.status, error);
    if (!j || !j->value("pid", 0)) {
      std::cerr << "streamguardctl: " << d.name << " does not answer on its status endpoint: "
                << (error.empty() ? d.status.to_string() + " has no pid on /status" : error)
                << "; start it and run this again. Nothing was changed.\n";
      return false;
    }
    d.pid = (*j)["pid"].get<pid_t>();
  }
  out = std::move(want);
  return true;
}

// The edited file, in place of the old one, with its owner and mode.
bool replace_file(const std::string& path, const std::string& text) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  const std::string tmp = path + ".streamguard-new";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return false;
  }
  if (::chmod(tmp.c_str(), st.st_mode & 07777) != 0 ||
      ::chown(tmp.c_str(), st.st_uid, st.st_gid) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

// Step 1: the new file, checked before it replaces the old.
bool write_mode(const Args& a, StreamMode mode) {
  std::ifstream in(a.config, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    std::cerr << "streamguardctl: cannot read " << a.config << "\n";
    return false;
  }
  std::string error;
  auto edit = set_stream_mode(text.str(), a.stream, mode, error);
  if (!edit) {
    std::cerr << "streamguardctl: " << a.config << ": " << error << "; set the stream's mode by "
              << "hand, then reload the daemons and run postfix-conf --apply\n";
    return false;
  }
  auto parsed = parse_config(edit->text, a.config);
  const StreamConfig* s = parsed.config ? parsed.config->stream_named(a.stream) : nullptr;
  if (!s || s->mode != mode) {
    for (const auto& e : parsed.errors) std::cerr << e.to_string() << "\n";
    std::cerr << "streamguardctl: " << a.config << ":" << edit->line
              << ": the edited file would not set the mode; the file was left as it is\n";
    return false;
  }
  const auto problems = preflight::check(*parsed.config, std::time(nullptr));
  for (const auto& p : problems) std::cerr << p << "\n";
  if (!problems.empty()) return false;
  if (!replace_file(a.config, edit->text)) {
    std::cerr << "streamguardctl: cannot write " << a.config << ": " << std::strerror(errno)
              << "\n";
    return false;
  }
  std::cout << a.config << ":" << edit->line << ": "
            << (edit->before.empty() ? "added" : edit->before + "  ->") << "  " << edit->after
            << "\n";
  return true;
}

// Step 2: SIGHUP, and the new mode on /status within 15 s.
bool reload(const std::vector<Daemon>& daemons, const std::string& stream, StreamMode mode) {
  const std::string want(to_string(mode));
  for (const auto& d : daemons) {
    if (::kill(d.pid, SIGHUP) != 0) {
      std::cerr << "streamguardctl: cannot signal " << d.name << " (pid " << d.pid
                << "): " << std::strerror(errno) << "\n";
      return false;
    }
    std::string now, error;
    for (auto until = std::chrono::steady_clock::now() + 15s;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(100ms))
      if ((now = mode_on_status(d, stream, error)) == want) break;
    if (now != want) {
      std::cerr << "streamguardctl: " << d.name << " (pid " << d.pid << ") did not take "
                << "the new configuration within 15 s (its /status shows " << stream
                << (now.empty() ? " without a mode" : " in " + now)
                << "); its log says why. Postfix was not changed.\n";
      return false;
    }
    std::cout << d.name << " (pid " << d.pid << "): reloaded; " << stream << " is in " << want
              << " mode\n";
  }
  return true;
}

}  // namespace

int run_stream_mode(StreamMode mode, const std::vector<std::string>& args) {
  Args a;
  if (auto bad = parse_args(args, a); !bad.empty()) {
    std::cerr << "streamguardctl: " << bad << "\nusage: streamguardctl " << to_string(mode)
              << " STREAM --config FILE [--postfix-config DIR]\n";
    return 2;
  }
  auto loaded = load_config(a.config);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return 1;
  }
  if (!loaded.config->stream_named(a.stream)) {
    std::cerr << "streamguardctl: " << a.config << " has no stream named " << a.stream
              << " (streams:";
    for (const auto& s : loaded.config->streams) std::cerr << " " << s.name;
    std::cerr << ")\n";
    return 1;
  }
  std::vector<Daemon> daemons;
  if (!find_daemons(*loaded.config, daemons) || !write_mode(a, mode) ||
      !reload(daemons, a.stream, mode))
    return 1;
  PostfixConfOptions p;
  p.config = a.config;
  p.postfix_config = a.postfix_config;
  p.action = "--apply";
  if (const int rc = run_postfix_conf(p); rc != 0) return rc;
  std::cout << "stream " << a.stream
            << (mode == StreamMode::enforce ? " enforces: streamguard refuses, holds and tempfails "
                                              "its mail as configured\n"
                                            : " is in shadow: streamguard only logs and counts "
                                              "what it would refuse\n");
  return 0;
}

}  // namespace sg
