#include "ctl/postfix_apply.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "common/command.hpp"
#include "formats/held_queue.hpp"
#include "server/listener.hpp"

namespace sg {

namespace {

namespace fs = std::filesystem;
constexpr uint32_t kTimeoutMs = 60'000;
constexpr const char* kOrig = ".streamguard-orig";  // before streamguard's first apply
constexpr const char* kPrev = ".streamguard-prev";  // before the last apply or rollback

// main.cf parameters and master.cf entries ("name/type"), one line each, as
// postconf prints them.
using Lines = std::map<std::string, std::string>;

command::Result postfix(const ApplyTarget& t, const char* program, std::vector<std::string> args,
                        const std::string& config_dir = "") {
  const auto argv = command::postfix_argv(
      t.command_dir, program, config_dir.empty() ? t.config_dir : config_dir, std::move(args));
  auto r = command::run(argv, kTimeoutMs);
  if (!r.ok()) r.error = command::describe(r, argv);
  return r;
}

// `postconf -n` ("name = value") or `postconf -M` ("name type ... command
// -o ...") output, keyed by name or name/type.
Lines parse_lines(const std::string& out, bool entries) {
  Lines lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (entries) {
      std::istringstream words(line);
      std::string name, type;
      if (words >> name >> type) lines[name + "/" + type] = line;
    } else if (const auto eq = line.find(" = "); eq != std::string::npos) {
      lines[line.substr(0, eq)] = line.substr(eq + 3);
    }
  }
  return lines;
}

// What is set now in a configuration directory; false (error printed) when
// postconf fails.
bool read_lines(const ApplyTarget& t, const std::string& dir, Lines& params, Lines& entries) {
  auto n = postfix(t, "postconf", {"-n"}, dir);
  auto m = postfix(t, "postconf", {"-M"}, dir);
  for (const auto* r : {&n, &m})
    if (!r->ok()) {
      std::cerr << "streamguardctl: " << r->error << "\n";
      return false;
    }
  params = parse_lines(n.out, false);
  entries = parse_lines(m.out, true);
  return true;
}

// The rendering as postconf reads it: the two fragments in a scratch
// configuration directory.
bool read_rendered(const ApplyTarget& t, const PostfixConf& conf, Lines& params, Lines& entries) {
  char tmpl[] = "/tmp/streamguardctl-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    std::cerr << "streamguardctl: cannot make a scratch folder: " << std::strerror(errno) << "\n";
    return false;
  }
  const std::string dir = tmpl;
  std::ofstream(dir + "/main.cf") << conf.main_cf;
  std::ofstream(dir + "/master.cf") << conf.master_cf;
  const bool ok = read_lines(t, dir, params, entries);
  std::error_code ec;
  fs::remove_all(dir, ec);
  // postconf -c shows config_directory as set: only what the fragment sets.
  std::erase_if(params, [&](const auto& p) {
    return !conf.main_cf.starts_with(p.first + " =") &&
           conf.main_cf.find("\n" + p.first + " =") == std::string::npos;
  });
  return ok;
}

// A live unix socket (server/listener.hpp), or a TCP port that accepts.
bool answers(const Endpoint& ep) {
  if (ep.kind == Endpoint::Kind::unix_socket) return unix_socket_in_use(ep.path);
  const bool v6 = ep.host.find(':') != std::string::npos;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int rc = -1;
  if (v6) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(ep.port);
    ::inet_pton(AF_INET6, ep.host.c_str(), &sa.sin6_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(ep.port);
    ::inet_pton(AF_INET, ep.host.c_str(), &sa.sin_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  ::close(fd);
  return rc == 0;
}

// Postfix would defer or tempfail every stream message without them.
bool daemons_answer(const Config& cfg) {
  std::vector<std::pair<std::string, Endpoint>> wanted;
  for (const auto& ep : cfg.policyd.listen) wanted.emplace_back("streamguard-policyd", ep);
  if (cfg.milter.configured) wanted.emplace_back("streamguard-milter", cfg.milter.listen);
  bool ok = true;
  for (const auto& [who, ep] : wanted) {
    if (answers(ep)) continue;
    std::cerr << "streamguardctl: " << who << " does not answer on " << ep.to_string()
              << ": start it before applying (Postfix would defer or tempfail every message "
                 "of the streams)\n";
    ok = false;
  }
  return ok;
}

bool copy(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec)
    std::cerr << "streamguardctl: cannot copy " << from << " to " << to << ": " << ec.message()
              << "\n";
  return !ec;
}

bool copy_both(const ApplyTarget& t, const std::string& from_suffix, const std::string& to_suffix) {
  for (const char* f : {"main.cf", "master.cf"})
    if (!copy(t.config_dir + "/" + f + from_suffix, t.config_dir + "/" + f + to_suffix))
      return false;
  return true;
}

bool install_maps(const Config& cfg, const PostfixConf& conf) {
  for (const auto& m : conf.maps) {
    const fs::path path = fs::path(cfg.postfix.backstop_dir) / m.file;
    const fs::path tmp = path.string() + ".tmp";
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);  // [postfix] backstop_dir
    std::ofstream(tmp) << m.text;
    fs::rename(tmp, path, ec);
    if (ec) {
      std::cerr << "streamguardctl: cannot write " << path.string() << ": " << ec.message() << "\n";
      return false;
    }
    std::cout << "installed " << path.string() << "\n";
  }
  return true;
}

// `postfix check`, then `postfix reload` when Postfix runs.
bool check_and_reload(const ApplyTarget& t) {
  auto check = postfix(t, "postfix", {"check"});
  if (!check.ok()) {
    std::cerr << "streamguardctl: " << check.error << "\n";
    return false;
  }
  if (!postfix(t, "postfix", {"status"}).ok()) {
    std::cout << "Postfix is not running: the new configuration applies when it starts\n";
    return true;
  }
  auto reload = postfix(t, "postfix", {"reload"});
  if (!reload.ok())
    std::cerr << "streamguardctl: " << reload.error << "\n";
  else
    std::cout << "postfix reload: done\n";
  return reload.ok();
}

// Queued mail that names one of the streams' transports, by transport.
std::map<std::string, std::vector<std::string>> queued_on_streams(const Config& cfg,
                                                                  const ApplyTarget& t) {
  std::set<std::string> transports;
  for (const auto& s : cfg.streams) transports.insert(s.postfix.transport);
  std::map<std::string, std::vector<std::string>> out;
  auto listing = postfix(t, "postqueue", {"-j"});
  for (const auto& m : held::parse_postqueue(listing.out).messages) {
    auto cat = postfix(t, "postcat", {"-e", "-q", m.queue_id});
    std::string err;
    const auto env = held::parse_postcat_envelope(cat.out, err);
    if (!env) continue;
    const std::string transport(held::filter_transport(env->content_filter));
    if (transports.count(transport)) out[transport].push_back(m.queue_id);
  }
  return out;
}

}  // namespace

int postfix_diff(const Config&, const PostfixConf& conf, const ApplyTarget& t) {
  Lines now_p, now_e, new_p, new_e;
  if (!read_lines(t, t.config_dir, now_p, now_e) || !read_rendered(t, conf, new_p, new_e)) return 1;
  int changes = 0;
  auto show = [&](const char* file, const Lines& now, const Lines& next) {
    for (const auto& [key, line] : next) {
      const auto it = now.find(key);
      if (it != now.end() && it->second == line) continue;
      ++changes;
      std::cout << file << " " << key << (it == now.end() ? " (new)" : "") << "\n";
      if (it != now.end()) std::cout << "  - " << it->second << "\n";
      std::cout << "  + " << line << "\n";
    }
  };
  show("main.cf", now_p, new_p);
  show("master.cf", now_e, new_e);
  if (changes == 0) std::cout << "nothing to change in " << t.config_dir << "\n";
  return 0;
}

int postfix_apply(const Config& cfg, const PostfixConf& conf, const ApplyTarget& t) {
  Lines params, entries;
  if (!daemons_answer(cfg) || !read_rendered(t, conf, params, entries)) return 1;
  const std::string main_orig = t.config_dir + "/main.cf" + kOrig;
  if (!fs::exists(main_orig)) {
    if (!copy_both(t, "", kOrig)) return 1;
    std::cout << "kept main.cf and master.cf as they were in " << t.config_dir << "/*" << kOrig
              << " (what --rollback puts back)\n";
  }
  if (!copy_both(t, "", kPrev)) return 1;
  std::vector<std::string> set_params{"-e"}, set_entries{"-M"};
  for (const auto& [name, value] : params) set_params.push_back(name + " = " + value);
  for (const auto& [key, line] : entries) set_entries.push_back(key + " = " + line);
  for (auto* args : {&set_params, &set_entries}) {
    auto r = postfix(t, "postconf", *args);
    if (!r.ok()) {
      std::cerr << "streamguardctl: " << r.error << "\n";
      copy_both(t, kPrev, "");
      return 1;
    }
  }
  std::cout << "set " << params.size() << " main.cf parameters and " << entries.size()
            << " master.cf entries in " << t.config_dir << "\n";
  if (!install_maps(cfg, conf) || !check_and_reload(t)) {
    std::cerr << "streamguardctl: main.cf and master.cf are put back as they were\n";
    copy_both(t, kPrev, "");
    return 1;
  }
  return 0;
}

int postfix_rollback(const Config& cfg, const PostfixConf& conf, const ApplyTarget& t) {
  const std::string main_orig = t.config_dir + "/main.cf" + kOrig;
  if (!fs::exists(main_orig)) {
    std::cerr << "streamguardctl: no main.cf" << kOrig << " in " << t.config_dir
              << ": nothing to roll back (--apply keeps the originals there)\n";
    return 1;
  }
  if (!copy_both(t, "", kPrev) || !copy_both(t, kOrig, "")) return 1;
  std::cout << "put back main.cf and master.cf as they were before streamguard\n";
  const auto queued = queued_on_streams(cfg, t);
  if (!queued.empty()) {
    Lines params, entries;
    if (!read_rendered(t, conf, params, entries)) return 1;
    std::vector<std::string> keep{"-M"};
    for (const auto& [transport, ids] : queued) {
      keep.push_back(transport + "/unix = " + entries[transport + "/unix"]);
      std::cout << "kept the transport " << transport << " in master.cf: " << ids.size()
                << " queued message" << (ids.size() == 1 ? "" : "s") << " (" << ids.front()
                << (ids.size() > 1 ? ", ..." : "")
                << ") still name it; run --rollback again once they have left\n";
    }
    auto r = postfix(t, "postconf", keep);
    if (!r.ok()) std::cerr << "streamguardctl: " << r.error << "\n";
    // The kept transport still removes the stream tag from the mail it has
    // left to send: the parameter it names stays until the second rollback.
    if (const auto p = params.find("streamguard_smtp_header_checks"); p != params.end()) {
      auto e = postfix(t, "postconf", {"-e", p->first + "=" + p->second});
      if (!e.ok()) std::cerr << "streamguardctl: " << e.error << "\n";
    }
  } else {
    std::error_code ec;
    for (const char* f : {"main.cf", "master.cf"}) fs::remove(t.config_dir + "/" + f + kOrig, ec);
  }
  return check_and_reload(t) ? 0 : 1;
}

}  // namespace sg
