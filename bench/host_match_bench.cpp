// streamguard-host-match-bench: the CPU one OpenDKIM host-list lookup
// (dkim::match_host) costs. The milter predicts OpenDKIM's signing for every
// message and looks the client up in InternalHosts and PeerList each time,
// so this is CPU per message. Prints one line per client: CPU microseconds
// per lookup (process CPU time, which steal on a shared machine does not
// inflate).
//
//   streamguard-host-match-bench [--lookups N]   (default 200000)
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "formats/opendkim.hpp"

namespace {

namespace dkim = sg::dkim;

// A host list as a Debian mail host writes its TrustedHosts: loopback, the
// private networks, an IPv6 prefix, a host and a domain.
constexpr const char* kHosts =
    "127.0.0.1\n::1\n10.0.0.0/8\n172.16.0.0/12\n192.168.0.0/16\n2001:db8:100::/48\n"
    "mail.example.com\n.corp.example.com\n";

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// CPU microseconds per call of `f`, over `n` calls.
double per_call_us(long n, const std::function<bool()>& f) {
  long hits = 0;
  const double start = cpu_seconds();
  for (long i = 0; i < n; ++i) hits += f() ? 1 : 0;
  const double us = (cpu_seconds() - start) * 1e6 / static_cast<double>(n);
  if (hits < 0) std::puts("");  // keeps the calls from being optimised away
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  long n = 200000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--lookups") == 0 && i + 1 < argc) {
      n = std::atol(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: streamguard-host-match-bench [--lookups N]\n");
      return 2;
    }
  }
  if (n <= 0) n = 1;
  std::vector<dkim::Error> errors;
  const auto list = dkim::parse_host_list(kHosts, dkim::DatasetKind::kFile, "hosts", errors);
  if (!errors.empty()) {
    std::fprintf(stderr, "%s\n", errors.front().str().c_str());
    return 1;
  }
  struct Client {
    const char* what;
    const char* ip;
    const char* host;
  };
  for (const Client& c : {Client{"IPv4, in no entry", "203.0.113.7", "mx.other.example"},
                          Client{"IPv4, in 10.0.0.0/8", "10.1.2.3", "app.corp.example.com"},
                          Client{"IPv6, in no entry", "2001:db8:1:2:3:4:5:6", "mx.other.example"},
                          Client{"IPv6, in the /48", "2001:db8:100::25", ""}}) {
    const double us = per_call_us(n, [&] { return dkim::match_host(list, c.ip, c.host).matched; });
    std::printf("match_host, %-22s %.3f us CPU\n", std::string(c.what).append(":").c_str(), us);
  }
  return 0;
}
