// Asynchronous MX lookups on the Asio loop, and the operator lookup built on
// them (cache, coalescing of concurrent lookups of one domain, metrics).
//
// The resolver is c-ares: a plain stub resolver meant to be driven by someone
// else's event loop (it tells us which sockets to watch and we call
// ares_process_fd), with its own retries over the servers of resolv.conf or
// the config. We need no DNSSEC validation and no recursion of our own, which
// is what libunbound would add (with its own threads or a forked worker).
// c-ares does not give us record TTLs with its MX helper and 1.18 has no cache,
// so the answer is parsed by formats/mx.cpp and cached by MxCache.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"
#include "common/config.hpp"
#include "common/metrics.hpp"
#include "rules/mx_operator.hpp"

struct ares_channeldata;

namespace sg {

class MxResolver {
 public:
  using Done = std::function<void(MxResult)>;

  // Throws std::runtime_error naming the problem if c-ares cannot start.
  MxResolver(boost::asio::io_context& io, const DnsConfig& cfg);
  ~MxResolver();
  MxResolver(const MxResolver&) = delete;
  MxResolver& operator=(const MxResolver&) = delete;

  // Sends the MX query; `done` runs on the loop exactly once, never inside
  // this call, unless the resolver is destroyed first (then never).
  void lookup(const std::string& domain, Done done);
  std::size_t pending() const { return pending_; }

 private:
  struct Socket;
  static void on_sock_state(void* self, int fd, int readable, int writable);
  static void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  void watch(const std::shared_ptr<Socket>& s, bool write);
  void arm_timer();

  boost::asio::io_context& io_;
  ares_channeldata* channel_ = nullptr;
  std::unordered_map<int, std::shared_ptr<Socket>> sockets_;
  boost::asio::steady_timer timer_;
  std::size_t pending_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The operator lookup policyd uses: cache first, one query per domain in
// flight however many recipients wait for it.
class MxLookup {
 public:
  using Done = std::function<void(const MxResult&, bool cached)>;

  MxLookup(boost::asio::io_context& io, const DnsConfig& cfg, const Clock& clock,
           metrics::Registry& registry);

  void find(const std::string& domain, Done done);
  // A reload may change the DNS settings that shape answers (TTLs): start
  // from an empty cache. (Servers and timeouts wait for a restart.)
  void reset(const DnsConfig& cfg);
  std::size_t cached() const { return cache_.size(); }

 private:
  DnsConfig cfg_;
  const Clock& clock_;
  MxResolver resolver_;
  MxCache cache_;
  std::map<std::string, std::vector<Done>> waiting_;
  metrics::Family<metrics::Counter>& lookups_;
  metrics::Family<metrics::Counter>& cache_stats_;
  metrics::Histogram& latency_;
};

}  // namespace sg
