// A real DNS server for a test: dnsmasq on 127.0.0.1 at a free UDP port,
// answering only from its command line (MX records with --mx-host, NXDOMAIN
// zones with --local), never forwarding anywhere (--no-resolv, no servers).
// Names it knows nothing about get REFUSED. Every query is logged to a file
// the test can count.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sg::testing {

// A UDP port on 127.0.0.1 nobody is bound to right now.
inline uint16_t free_udp_port() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free UDP port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool udp_port_taken(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool taken = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0;
  ::close(fd);
  return taken;
}

// A UDP socket that takes queries and never answers: the server that times out.
class SilentDnsServer {
 public:
  SilentDnsServer() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot bind a UDP socket on 127.0.0.1");
    port_ = ntohs(a.sin_port);
  }
  ~SilentDnsServer() { ::close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

class DnsServer {
 public:
  // records: dnsmasq options, e.g. "--mx-host=clinic.example,aspmx.l.google.com,1".
  explicit DnsServer(std::vector<std::string> records, int ttl_s = 300)
      : records_(std::move(records)), ttl_s_(ttl_s) {
    char tmpl[] = "/tmp/sg-dns-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    start();
  }
  ~DnsServer() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log_path() const { return dir_ + "/dnsmasq.log"; }

  // How many queries of `type` ("MX") for `name` dnsmasq has logged.
  int queries(const std::string& type, const std::string& name) const {
    std::ifstream in(log_path());
    std::string line;
    const std::string needle = "query[" + type + "] " + name + " from";
    int n = 0;
    while (std::getline(in, line))
      if (line.find(needle) != std::string::npos) ++n;
    return n;
  }

 private:
  void start() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_udp_port();
      std::error_code gone;
      std::filesystem::remove(log_path(), gone);  // a start logged by an earlier attempt
      pid_ = ::fork();
      if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        std::string out = dir_ + "/dnsmasq.out";
        FILE* f = std::freopen(out.c_str(), "a", stdout);
        if (f) ::dup2(STDOUT_FILENO, STDERR_FILENO);
        std::vector<std::string> args = {"dnsmasq",
                                         "--keep-in-foreground",
                                         "--conf-file=/dev/null",
                                         "--no-resolv",
                                         "--no-hosts",
                                         "--no-poll",
                                         "--bind-interfaces",
                                         "--listen-address=127.0.0.1",
                                         "--port=" + std::to_string(port_),
                                         "--pid-file",
                                         "--log-queries",
                                         "--log-facility=" + log_path(),
                                         "--local-ttl=" + std::to_string(ttl_s_),
                                         "--cache-size=0"};
        if (::geteuid() == 0) args.push_back("--user=root");
        for (const auto& r : records_) args.push_back(r);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execvp("dnsmasq", argv.data());
        ::_exit(127);
      }
      for (int i = 0; i < 300; ++i) {
        // Ours, not another test's that picked the same free port a moment
        // earlier: dnsmasq logs "started" only once it holds its socket (one
        // that finds the port taken exits with "Address already in use").
        if (udp_port_taken(port_) && logged_start()) return;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          break;  // exited: the port was taken meanwhile, or dnsmasq is missing
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      stop();
    }
    std::ifstream in(dir_ + "/dnsmasq.out");
    std::stringstream ss;
    ss << in.rdbuf();
    throw std::runtime_error(
        "dnsmasq did not start (scripts/install-deps installs dnsmasq-base): " + ss.str());
  }

  bool logged_start() const {
    std::ifstream in(log_path());
    std::string line;
    while (std::getline(in, line))
      if (line.find("started, version") != std::string::npos) return true;
    return false;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::vector<std::string> records_;
  int ttl_s_;
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sg::testing
