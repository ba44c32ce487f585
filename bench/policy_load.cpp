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
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "bench/policy_load_args.hpp"
#include "bench/policy_load_report.hpp"
#include "common/endpoint.hpp"
#include "formats/policy_protocol.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using sg::policy::ParseStatus;
using namespace sg::policy_load;

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

double process_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

class Runner {
 public:
  Runner(const Options& o, std::vector<std::string> pool) : o_(o), pool_(std::move(pool)) {}

  Report run() {
    Report rep;
    open_all(rep);
    if (open_ == 0) {
      ::close(ep_);
      return rep;
    }
    start_clock();
    for (std::size_t i = 0; i < conns_.size(); ++i)
      if (conns_[i].fd >= 0) issue(i, Clock::now());
    loop(rep);
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
  void open_all(Report& rep) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    conns_.resize(o_.connections);
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      std::string err;
      const int fd = open_connection(o_.target, err);
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
  }

  void start_clock() {
    start_ = Clock::now();
    measure_from_ = start_ + to_duration(o_.warmup);
    hard_stop_ = start_ + to_duration(o_.max_seconds);
    measure_until_ = o_.requests ? hard_stop_ : measure_from_ + to_duration(o_.duration);
    if (measure_until_ > hard_stop_) measure_until_ = hard_stop_;
    latency_.reserve(o_.requests ? std::min<uint64_t>(o_.requests, 50'000'000) : 1 << 20);
  }

  // Runs the event loop until every measured request is answered, the
  // connections are gone or --max-seconds passes; the generator's own CPU is
  // measured from the end of the warmup.
  void loop(Report& rep) {
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
      rep.hit_max_seconds = now >= hard_stop_;
      if (rep.hit_max_seconds || (stopping_ && outstanding() == 0) || open_ == 0) break;
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), wait_ms(now));
      if (n < 0 && errno != EINTR) break;
      now = Clock::now();
      for (int e = 0; e < n; ++e) on_event(events[e], now);
      if (now - last_scan >= std::chrono::milliseconds(20)) {
        last_scan = now;
        drop_timed_out(now);
      }
    }
    if (!cpu_started) return;
    const double wall = seconds_between(cpu_t0, Clock::now());
    if (wall > 0) rep.client_cpu_percent = (process_cpu_seconds() - cpu0) / wall * 100.0;
  }

  // Wake at least every 20 ms to check the clock and the timeouts.
  int wait_ms(Clock::time_point now) const {
    if (stopping_) return 20;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(measure_until_ - now);
    return static_cast<int>(std::clamp<int64_t>(left.count() + 1, 0, 20));
  }

  void on_event(const epoll_event& ev, Clock::time_point now) {
    const std::size_t i = ev.data.u64;
    Conn& c = conns_[i];
    if (c.fd < 0) return;
    if (ev.events & EPOLLOUT) flush(i);
    if (c.fd >= 0 && (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(i, now);
  }

  void drop_timed_out(Clock::time_point now) {
    const auto limit = to_duration(o_.timeout_ms / 1000.0);
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      Conn& c = conns_[i];
      if (c.fd >= 0 && c.busy && now - c.started > limit) {
        ++timeouts_;
        drop(i);
      }
    }
  }

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

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 2;
  auto opts = parse_args(argc, argv, exit_code);
  if (!opts) return exit_code;
  ::signal(SIGPIPE, SIG_IGN);

  auto pool = request_pool(*opts);
  if (!pool) {
    std::cerr << "streamguard-policy-load: --recipients: cannot read addresses from "
              << opts->recipients_file << "\n";
    return 2;
  }
  Runner runner(*opts, std::move(*pool));
  Report rep = runner.run();
  if (rep.connections_open == 0) return 2;
  print_report(*opts, rep);
  return rep.errors ? 1 : 0;
}
