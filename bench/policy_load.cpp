// streamguard-policy-load: a load generator for Postfix policy services
// (SMTPD_POLICY_README protocol). It behaves as Postfix's smtpd does towards
// check_policy_service: persistent connections, each with exactly one request
// outstanding, the next sent only once the answer has arrived (a closed loop).
// One thread, one epoll set, so the generator itself uses one core at most.
//
// Only loopback targets: unix:/path, or inet:127.x.y.z:PORT / inet:[::1]:PORT.
// Every run is bounded in time and stops by itself.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/endpoint.hpp"
#include "formats/policy_protocol.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using sg::policy::ParseStatus;

constexpr const char* kHelp = R"(NAME
    streamguard-policy-load - load generator for Postfix policy services

SYNOPSIS
    streamguard-policy-load --target ADDR [--connections N]
                            [--duration S | --requests N] [--warmup S]
                            [--ports P,P...] [--recipients FILE]
                            [--timeout-ms MS] [--max-seconds S] [--json]

DESCRIPTION
    Opens N persistent connections to a policy service and, on each, sends
    one RCPT-stage request at a time and waits for its answer before sending
    the next, as Postfix's smtpd does. Requests carry the attributes Postfix
    3.7 sends. After the warmup, every request started is measured; the run
    reports requests, seconds, requests/s, latency percentiles (microseconds)
    and how many answers had each action.

OPTIONS
    --target ADDR      unix:/path or inet:HOST:PORT, HOST a loopback address
                       (127.0.0.0/8 or ::1). Other hosts are refused.
    --connections N    Concurrent connections (default 32).
    --duration S       Measure for S seconds after the warmup (default 10
                       when --requests is not given).
    --requests N       Measure N requests instead of a duration.
    --warmup S         Seconds of unmeasured load first (default 2).
    --ports LIST       server_port values cycled over the requests
                       (default 25,2526).
    --recipients FILE  Recipient addresses, one a line ('#' comments and
                       blank lines skipped), cycled. Default: the built-in
                       mix below.
    --timeout-ms MS    An answer later than this counts as an error and the
                       connection is closed (default 10000).
    --max-seconds S    Hard bound on the whole run, warmup and drain
                       included (default 600).
    --seed N           Seed of the built-in mix (default 1).
    --json             Print the report as one JSON object.
    --help             This text.

BUILT-IN RECIPIENT MIX (per 100 recipients, 1000 distinct addresses)
    60  institutional: 45 clinicNNN.example, 15 other practice and
        business domains (no list, no operator: stream caps only)
    12  gmail.com          consumer; operator google
     8  outlook.com, 2 hotmail.com   consumer; operator microsoft
     6  yahoo.com, 2 aol.com         yahoo_family (and consumer)
     3  direct.clinicNNN.example     direct_hisp (*direct*)
     2  adelphia.net                 dead_isp
     2  icloud.com                   consumer; operator apple
     3  comcast.net                  consumer; no operator
    Each recipient is sent once with every --ports value.

EXIT STATUS
    0 when the run completed with no error, 1 when errors were counted,
    2 on a usage error or when no connection could be opened.
)";

struct Options {
  sg::Endpoint target;
  std::string target_text;
  unsigned connections = 32;
  double duration = 0;
  uint64_t requests = 0;
  double warmup = 2;
  std::vector<uint16_t> ports{25, 2526};
  std::string recipients_file;
  double timeout_ms = 10000;
  double max_seconds = 600;
  uint64_t seed = 1;
  bool json = false;
};

bool parse_double(std::string_view s, double& out) {
  std::string copy(s);
  char* end = nullptr;
  errno = 0;
  out = std::strtod(copy.c_str(), &end);
  return !copy.empty() && end == copy.c_str() + copy.size() && errno == 0 && std::isfinite(out) &&
         out >= 0;
}

template <class T>
bool parse_uint(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

std::optional<Options> parse_args(int argc, char** argv, int& exit_code) {
  Options o;
  bool have_target = false, have_duration = false;
  exit_code = 2;
  auto fail = [&](const std::string& msg) -> std::optional<Options> {
    std::cerr << "streamguard-policy-load: " << msg << " (see --help)\n";
    return std::nullopt;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      exit_code = 0;
      return std::nullopt;
    }
    if (a == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= argc) return fail(std::string(a) + " needs a value or is unknown");
    std::string_view v = argv[++i];
    if (a == "--target") {
      std::string err;
      auto ep = sg::parse_endpoint(v, err);
      if (!ep) return fail("--target: " + err);
      if (!ep->is_loopback())
        return fail("--target: " + ep->to_string() +
                    " is not on this machine; only unix: and loopback TCP targets are allowed");
      o.target = *ep;
      o.target_text = ep->to_string();
      have_target = true;
    } else if (a == "--connections") {
      if (!parse_uint(v, o.connections) || o.connections == 0 || o.connections > 10000)
        return fail("--connections: expected 1..10000");
    } else if (a == "--duration") {
      if (!parse_double(v, o.duration) || o.duration <= 0) return fail("--duration: seconds > 0");
      have_duration = true;
    } else if (a == "--requests") {
      if (!parse_uint(v, o.requests) || o.requests == 0) return fail("--requests: expected N > 0");
    } else if (a == "--warmup") {
      if (!parse_double(v, o.warmup)) return fail("--warmup: seconds >= 0");
    } else if (a == "--ports") {
      o.ports.clear();
      std::string_view rest = v;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        auto item = rest.substr(0, comma);
        unsigned p = 0;
        if (!parse_uint(item, p) || p == 0 || p > 65535) return fail("--ports: bad port list");
        o.ports.push_back(static_cast<uint16_t>(p));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      if (o.ports.empty()) return fail("--ports: empty list");
    } else if (a == "--recipients") {
      o.recipients_file = std::string(v);
    } else if (a == "--timeout-ms") {
      if (!parse_double(v, o.timeout_ms) || o.timeout_ms <= 0) return fail("--timeout-ms: > 0");
    } else if (a == "--max-seconds") {
      if (!parse_double(v, o.max_seconds) || o.max_seconds <= 0) return fail("--max-seconds: > 0");
    } else if (a == "--seed") {
      if (!parse_uint(v, o.seed)) return fail("--seed: expected an integer");
    } else {
      return fail("unknown option '" + std::string(a) + "'");
    }
  }
  if (!have_target) return fail("--target is required");
  if (have_duration && o.requests) return fail("give --duration or --requests, not both");
  if (!have_duration && !o.requests) o.duration = 10;
  exit_code = 0;
  return o;
}

// A small deterministic generator (splitmix64): the same seed, the same mix.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  unsigned below(unsigned n) { return static_cast<unsigned>(next() % n); }
};

std::string three_digits(unsigned n) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%03u", n % 1000);
  return buf;
}

std::vector<std::string> builtin_recipients(uint64_t seed) {
  static const char* kFirst[] = {"jane",  "john", "maria",  "wei",    "ahmed", "olga",
                                 "li",    "sam",  "nina",   "pedro",  "kofi",  "ana",
                                 "front", "info", "office", "billing"};
  static const char* kOther[] = {
      "familymed",  "smiledental",  "northclinic",         "eyecare",
      "pediatrics", "acme-freight", "bluewater-logistics", "riverbend-health"};
  Rng rng{seed};
  auto local = [&] {
    return std::string(kFirst[rng.below(std::size(kFirst))]) + "." +
           std::to_string(rng.below(900) + 100);
  };
  std::vector<std::string> out;
  for (unsigned block = 0; block < 10; ++block) {
    std::vector<std::string> b;
    for (int i = 0; i < 45; ++i)
      b.push_back(local() + "@clinic" + three_digits(rng.below(400) + 1) + ".example");
    for (int i = 0; i < 15; ++i)
      b.push_back(local() + "@" + kOther[rng.below(std::size(kOther))] +
                  std::to_string(rng.below(50) + 1) + ".example");
    for (int i = 0; i < 12; ++i) b.push_back(local() + "@gmail.com");
    for (int i = 0; i < 8; ++i) b.push_back(local() + "@outlook.com");
    for (int i = 0; i < 2; ++i) b.push_back(local() + "@hotmail.com");
    for (int i = 0; i < 6; ++i) b.push_back(local() + "@yahoo.com");
    for (int i = 0; i < 2; ++i) b.push_back(local() + "@aol.com");
    for (int i = 0; i < 3; ++i)
      b.push_back(local() + "@direct.clinic" + three_digits(rng.below(400) + 1) + ".example");
    for (int i = 0; i < 2; ++i) b.push_back(local() + "@adelphia.net");
    for (int i = 0; i < 2; ++i) b.push_back(local() + "@icloud.com");
    for (int i = 0; i < 3; ++i) b.push_back(local() + "@comcast.net");
    // Shuffle within the block so kinds interleave but proportions hold.
    for (std::size_t i = b.size() - 1; i > 0; --i) std::swap(b[i], b[rng.below(i + 1)]);
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

std::optional<std::vector<std::string>> file_recipients(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    auto e = line.find_last_not_of(" \t\r");
    out.push_back(line.substr(b, e - b + 1));
  }
  return out;
}

// One request as Postfix 3.7's smtpd sends it at the RCPT stage.
std::string make_request(const std::string& recipient, uint16_t port, uint64_t k, Rng& rng) {
  char qid[16];
  std::snprintf(qid, sizeof qid, "%010llX", static_cast<unsigned long long>(rng.next() >> 24));
  sg::policy::Request r;
  r.set("request", "smtpd_access_policy");
  r.set("protocol_state", "RCPT");
  r.set("protocol_name", "ESMTP");
  r.set("client_address", "127.0.0.1");
  r.set("client_name", "localhost");
  r.set("client_port", std::to_string(32768 + rng.below(28000)));
  r.set("reverse_client_name", "localhost");
  r.set("server_address", "127.0.0.1");
  r.set("server_port", std::to_string(port));
  r.set("helo_name", "listmonk.example");
  r.set("sender", "bounces+" + std::to_string(k % 100000) + "@news.example");
  r.set("recipient", recipient);
  r.set("recipient_count", "0");
  r.set("queue_id", qid);
  r.set("instance", std::to_string(1000 + k % 9000) + ".65a1b2c3.d4e5f.0");
  r.set("size", std::to_string(20000 + rng.below(60000)));
  r.set("etrn_domain", "");
  r.set("stress", "");
  r.set("sasl_method", "");
  r.set("sasl_username", "");
  r.set("sasl_sender", "");
  r.set("ccert_subject", "");
  r.set("ccert_issuer", "");
  r.set("ccert_fingerprint", "");
  r.set("ccert_pubkey_fingerprint", "");
  r.set("encryption_protocol", "");
  r.set("encryption_cipher", "");
  r.set("encryption_keysize", "0");
  r.set("policy_context", "");
  r.set("server_hostname", "mx.news.example");
  r.set("compatibility_level", "3.6");
  r.set("mail_version", "3.7.11");
  return sg::policy::encode_request(r);
}

enum ActionKind { kDunno, kReject, kDefer, kHold, kOtherAction, kActionKinds };
const char* kActionNames[kActionKinds] = {"DUNNO", "REJECT", "DEFER_IF_PERMIT", "HOLD", "other"};

ActionKind classify_action(std::string_view action) {
  auto word = action.substr(0, action.find_first_of(" \t"));
  auto eq = [&](std::string_view w) {
    if (w.size() != word.size()) return false;
    for (std::size_t i = 0; i < w.size(); ++i)
      if (std::toupper(static_cast<unsigned char>(word[i])) != w[i]) return false;
    return true;
  };
  if (eq("DUNNO")) return kDunno;
  if (eq("REJECT")) return kReject;
  if (eq("DEFER_IF_PERMIT")) return kDefer;
  if (eq("HOLD")) return kHold;
  return kOtherAction;
}

struct Conn {
  int fd = -1;
  const std::string* out = nullptr;  // request being sent
  std::size_t sent = 0;
  bool busy = false;      // a request is outstanding
  bool measured = false;  // it was started after the warmup
  bool want_write = false;
  Clock::time_point started;
  sg::policy::PolicyParser parser;
};

int open_connection(const sg::Endpoint& ep, std::string& err) {
  int fd = -1;
  int rc = -1;
  if (ep.kind == sg::Endpoint::Kind::unix_socket) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = std::strerror(errno);
      return -1;
    }
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, ep.path.c_str(), std::min(ep.path.size(), sizeof sa.sun_path - 1));
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    in6_addr v6{};
    if (::inet_pton(AF_INET6, ep.host.c_str(), &v6) == 1) {
      fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in6 sa{};
      sa.sin6_family = AF_INET6;
      sa.sin6_port = htons(ep.port);
      sa.sin6_addr = v6;
      if (fd >= 0) rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    } else {
      fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(ep.port);
      ::inet_pton(AF_INET, ep.host.c_str(), &sa.sin_addr);
      if (fd >= 0) rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    }
    if (fd >= 0 && rc == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
  }
  if (fd < 0 || rc != 0) {
    err = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Report {
  uint64_t requests = 0;
  double seconds = 0;
  std::vector<uint64_t> latency_ns;
  uint64_t actions[kActionKinds] = {};
  uint64_t errors = 0;
  uint64_t timeouts = 0, closed = 0, protocol = 0, connect_failed = 0;
  unsigned connections_open = 0;
  bool hit_max_seconds = false;
  double client_cpu_percent = 0;  // this generator's CPU time over the measured part
};

double process_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double percentile_us(const std::vector<uint64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return static_cast<double>(sorted[std::min(rank, sorted.size()) - 1]) / 1000.0;
}

class Runner {
 public:
  Runner(const Options& o, std::vector<std::string> pool) : o_(o), pool_(std::move(pool)) {}

  Report run() {
    Report rep;
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    conns_.resize(o_.connections);
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      std::string err;
      int fd = open_connection(o_.target, err);
      if (fd < 0) {
        ++rep.connect_failed;
        if (rep.connect_failed == 1)
          std::cerr << "streamguard-policy-load: cannot connect to " << o_.target_text << ": "
                    << err << "\n";
        continue;
      }
      conns_[i].fd = fd;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
      ++open_;
    }
    rep.connections_open = open_;
    if (open_ == 0) {
      ::close(ep_);
      return rep;
    }

    start_ = Clock::now();
    measure_from_ = start_ + to_duration(o_.warmup);
    hard_stop_ = start_ + to_duration(o_.max_seconds);
    measure_until_ = o_.requests ? hard_stop_ : measure_from_ + to_duration(o_.duration);
    if (measure_until_ > hard_stop_) measure_until_ = hard_stop_;
    if (o_.requests)
      latency_.reserve(std::min<uint64_t>(o_.requests, 50'000'000));
    else
      latency_.reserve(1 << 20);

    for (std::size_t i = 0; i < conns_.size(); ++i)
      if (conns_[i].fd >= 0) issue(i, Clock::now());

    std::vector<epoll_event> events(256);
    auto last_scan = Clock::now();
    bool cpu_started = false;
    double cpu0 = 0;
    Clock::time_point cpu_t0;
    for (;;) {
      auto now = Clock::now();
      if (!cpu_started && now >= measure_from_) {
        cpu_started = true;
        cpu0 = process_cpu_seconds();
        cpu_t0 = now;
      }
      if (!stopping_ &&
          (now >= measure_until_ || (o_.requests && started_measured_ >= o_.requests)))
        stopping_ = true;
      if (now >= hard_stop_) {
        rep.hit_max_seconds = true;
        break;
      }
      if (stopping_ && outstanding() == 0) break;
      if (open_ == 0) break;
      // Wake at least every 20 ms to check the clock and the timeouts.
      int wait_ms = 20;
      if (!stopping_) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(measure_until_ - now);
        wait_ms = static_cast<int>(std::clamp<int64_t>(left.count() + 1, 0, 20));
      }
      int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), wait_ms);
      if (n < 0 && errno != EINTR) break;
      now = Clock::now();
      for (int e = 0; e < n; ++e) {
        std::size_t i = events[e].data.u64;
        Conn& c = conns_[i];
        if (c.fd < 0) continue;
        if (events[e].events & EPOLLOUT) flush(i);
        if (c.fd >= 0 && (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(i, now);
      }
      if (now - last_scan >= std::chrono::milliseconds(20)) {
        last_scan = now;
        auto limit = to_duration(o_.timeout_ms / 1000.0);
        for (std::size_t i = 0; i < conns_.size(); ++i) {
          Conn& c = conns_[i];
          if (c.fd >= 0 && c.busy && now - c.started > limit) {
            ++timeouts_;
            drop(i);
          }
        }
      }
    }
    if (cpu_started) {
      const double wall = seconds_between(cpu_t0, Clock::now());
      if (wall > 0) rep.client_cpu_percent = (process_cpu_seconds() - cpu0) / wall * 100.0;
    }
    for (std::size_t i = 0; i < conns_.size(); ++i)
      if (conns_[i].fd >= 0) ::close(conns_[i].fd);
    ::close(ep_);

    rep.requests = latency_.size();
    rep.seconds = last_answer_ > measure_from_ ? seconds_between(measure_from_, last_answer_) : 0;
    std::copy(std::begin(actions_), std::end(actions_), std::begin(rep.actions));
    rep.timeouts = timeouts_;
    rep.closed = closed_;
    rep.protocol = protocol_;
    rep.errors = timeouts_ + closed_ + protocol_ + rep.connect_failed;
    rep.latency_ns = std::move(latency_);
    return rep;
  }

 private:
  static Clock::duration to_duration(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }

  std::size_t outstanding() const {
    std::size_t n = 0;
    for (const auto& c : conns_)
      if (c.fd >= 0 && c.busy) ++n;
    return n;
  }

  void issue(std::size_t i, Clock::time_point now) {
    Conn& c = conns_[i];
    if (stopping_ || c.fd < 0) return;
    if (o_.requests && now >= measure_from_ && started_measured_ >= o_.requests) {
      stopping_ = true;
      return;
    }
    c.out = &pool_[next_ % pool_.size()];
    ++next_;
    c.sent = 0;
    c.busy = true;
    c.started = Clock::now();
    c.measured = c.started >= measure_from_;
    if (c.measured) ++started_measured_;
    flush(i);
  }

  void flush(std::size_t i) {
    Conn& c = conns_[i];
    while (c.out && c.sent < c.out->size()) {
      ssize_t n = ::send(c.fd, c.out->data() + c.sent, c.out->size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_write_interest(i, true);
        return;
      }
      ++closed_;
      drop(i);
      return;
    }
    set_write_interest(i, false);
  }

  void set_write_interest(std::size_t i, bool on) {
    Conn& c = conns_[i];
    if (c.want_write == on) return;
    c.want_write = on;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u64 = i;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void on_readable(std::size_t i, Clock::time_point now) {
    Conn& c = conns_[i];
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) {
        ++closed_;
        drop(i);
        return;
      }
      std::string_view data(buf, static_cast<std::size_t>(n));
      while (!data.empty()) {
        std::size_t used = 0;
        auto st = c.parser.feed(data, used);
        data.remove_prefix(used);
        if (st == ParseStatus::need_more) break;
        if (st == ParseStatus::error || !c.busy) {
          ++protocol_;
          if (protocol_ == 1)
            std::cerr << "streamguard-policy-load: bad answer: "
                      << (st == ParseStatus::error ? c.parser.error() : "answer without a request")
                      << "\n";
          drop(i);
          return;
        }
        auto answer = c.parser.take();
        if (!answer.has("action")) {
          ++protocol_;
          drop(i);
          return;
        }
        auto done = Clock::now();
        if (c.measured) {
          latency_.push_back(
              static_cast<uint64_t>(std::chrono::nanoseconds(done - c.started).count()));
          ++actions_[classify_action(answer.get("action"))];
          last_answer_ = done;
        }
        c.busy = false;
        issue(i, now);
        if (c.fd < 0) return;
      }
    }
  }

  void drop(std::size_t i) {
    Conn& c = conns_[i];
    if (c.fd < 0) return;
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    c.busy = false;
    --open_;
  }

  const Options& o_;
  std::vector<std::string> pool_;
  std::vector<Conn> conns_;
  int ep_ = -1;
  unsigned open_ = 0;
  uint64_t next_ = 0;
  uint64_t started_measured_ = 0;
  bool stopping_ = false;
  Clock::time_point start_, measure_from_, measure_until_, hard_stop_, last_answer_;
  std::vector<uint64_t> latency_;
  uint64_t actions_[kActionKinds] = {};
  uint64_t timeouts_ = 0, closed_ = 0, protocol_ = 0;
};

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

void print_report(const Options& o, Report& r) {
  std::sort(r.latency_ns.begin(), r.latency_ns.end());
  const double rps = r.seconds > 0 ? static_cast<double>(r.requests) / r.seconds : 0;
  const double p50 = percentile_us(r.latency_ns, 0.50), p90 = percentile_us(r.latency_ns, 0.90),
               p99 = percentile_us(r.latency_ns, 0.99), p999 = percentile_us(r.latency_ns, 0.999),
               max = r.latency_ns.empty() ? 0 : static_cast<double>(r.latency_ns.back()) / 1000.0;
  double mean = 0;
  for (auto v : r.latency_ns) mean += static_cast<double>(v);
  if (!r.latency_ns.empty()) mean /= static_cast<double>(r.latency_ns.size()) * 1000.0;
  char buf[2048];
  if (o.json) {
    std::snprintf(
        buf, sizeof buf,
        "{\"target\":%s,\"connections\":%u,\"connections_open\":%u,\"requests\":%llu,"
        "\"seconds\":%.3f,\"requests_per_second\":%.1f,\"latency_us\":{\"mean\":%.1f,"
        "\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p99_9\":%.1f,\"max\":%.1f},"
        "\"actions\":{\"DUNNO\":%llu,\"REJECT\":%llu,\"DEFER_IF_PERMIT\":%llu,"
        "\"HOLD\":%llu,\"other\":%llu},\"errors\":%llu,\"error_kinds\":{\"timeout\":%llu,"
        "\"closed\":%llu,\"protocol\":%llu,\"connect\":%llu},\"client_cpu_percent\":%.1f,"
        "\"hit_max_seconds\":%s}\n",
        json_string(o.target_text).c_str(), o.connections, r.connections_open,
        static_cast<unsigned long long>(r.requests), r.seconds, rps, mean, p50, p90, p99, p999, max,
        static_cast<unsigned long long>(r.actions[kDunno]),
        static_cast<unsigned long long>(r.actions[kReject]),
        static_cast<unsigned long long>(r.actions[kDefer]),
        static_cast<unsigned long long>(r.actions[kHold]),
        static_cast<unsigned long long>(r.actions[kOtherAction]),
        static_cast<unsigned long long>(r.errors), static_cast<unsigned long long>(r.timeouts),
        static_cast<unsigned long long>(r.closed), static_cast<unsigned long long>(r.protocol),
        static_cast<unsigned long long>(r.connect_failed), r.client_cpu_percent,
        r.hit_max_seconds ? "true" : "false");
    std::cout << buf;
    return;
  }
  std::cout << "target        " << o.target_text << "\n";
  std::snprintf(buf, sizeof buf,
                "connections   %u (%u opened)\nrequests      %llu\nseconds       %.3f\n"
                "requests/s    %.1f\nlatency (us)  mean %.1f  p50 %.1f  p90 %.1f  p99 %.1f  "
                "p99.9 %.1f  max %.1f\n",
                o.connections, r.connections_open, static_cast<unsigned long long>(r.requests),
                r.seconds, rps, mean, p50, p90, p99, p999, max);
  std::cout << buf << "actions      ";
  for (int k = 0; k < kActionKinds; ++k) std::cout << " " << kActionNames[k] << " " << r.actions[k];
  std::cout << "\nerrors        " << r.errors << " (timeout " << r.timeouts << ", closed "
            << r.closed << ", protocol " << r.protocol << ", connect " << r.connect_failed << ")\n";
  std::snprintf(buf, sizeof buf, "client CPU    %.0f%% of one core\n", r.client_cpu_percent);
  std::cout << buf;
  if (r.hit_max_seconds) std::cout << "note          stopped by --max-seconds\n";
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 2;
  auto opts = parse_args(argc, argv, exit_code);
  if (!opts) return exit_code;
  ::signal(SIGPIPE, SIG_IGN);

  std::vector<std::string> rcpts;
  if (!opts->recipients_file.empty()) {
    auto r = file_recipients(opts->recipients_file);
    if (!r || r->empty()) {
      std::cerr << "streamguard-policy-load: --recipients: cannot read addresses from "
                << opts->recipients_file << "\n";
      return 2;
    }
    rcpts = std::move(*r);
  } else {
    rcpts = builtin_recipients(opts->seed);
  }

  // Every recipient with every port, encoded once up front so the generator
  // spends its core on I/O, not on building requests. Bounded in size.
  const std::size_t nports = opts->ports.size();
  const std::size_t pool_size = std::min<std::size_t>(rcpts.size() * nports, 1'000'000);
  std::vector<std::string> pool;
  pool.reserve(pool_size);
  Rng rng{opts->seed ^ 0x5eedULL};
  for (std::size_t k = 0; k < pool_size; ++k) {
    // Request k: recipient j = k % R in pass m = k / R, with port (j + m) % P:
    // ports alternate request by request, and over the whole R * P pool every
    // recipient meets every port.
    const auto& rcpt = rcpts[k % rcpts.size()];
    uint16_t port = opts->ports[(k % rcpts.size() + k / rcpts.size()) % nports];
    pool.push_back(make_request(rcpt, port, k, rng));
  }

  Runner runner(*opts, std::move(pool));
  Report rep = runner.run();
  if (rep.connections_open == 0) return 2;
  print_report(*opts, rep);
  return rep.errors ? 1 : 0;
}
