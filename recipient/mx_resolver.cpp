#include "recipient/mx_resolver.hpp"
#include "common/dns_server.hpp"

#include <ares.h>
#include <spdlog/spdlog.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <stdexcept>

namespace sg {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;

struct MxResolver::Socket {
  Socket(asio::io_context& io, int f) : fd(f), sd(io, f) {}
  int fd;
  asio::posix::stream_descriptor sd;  // borrowed: c-ares owns and closes the fd
  bool want_read = false, want_write = false;
  bool reading = false, writing = false;
  bool open = true;
};

namespace {

struct Query {
  MxResolver::Done done;
  asio::io_context* io;
  std::shared_ptr<bool> alive;
  std::size_t* pending;
};

class LibraryInit {
 public:
  LibraryInit() { status = ares_library_init(ARES_LIB_INIT_ALL); }
  int status;
};

}  // namespace

MxResolver::MxResolver(asio::io_context& io, const DnsConfig& cfg) : io_(io), timer_(io) {
  static LibraryInit init;
  if (init.status != ARES_SUCCESS)
    throw std::runtime_error(std::string("c-ares: ") + ares_strerror(init.status));
  ares_options opts{};
  opts.flags = ARES_FLAG_NOSEARCH;  // an MX query for the domain itself, never a search list
  opts.timeout = static_cast<int>(cfg.timeout_ms);
  opts.tries = static_cast<int>(cfg.tries);
  opts.sock_state_cb = &MxResolver::on_sock_state;
  opts.sock_state_cb_data = this;
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
  ares_channel ch = nullptr;
  if (int rc = ares_init_options(&ch, &opts, mask); rc != ARES_SUCCESS)
    throw std::runtime_error(std::string("c-ares: cannot start the resolver: ") +
                             ares_strerror(rc));
  channel_ = ch;
  if (!cfg.servers.empty()) {
    std::string csv;
    for (const auto& text : cfg.servers) {
      std::string err;
      auto s = parse_dns_server(text, err);
      if (!s) throw std::runtime_error("[dns] servers: " + err);
      csv += (csv.empty() ? "" : ",") + s->to_string();
    }
    if (int rc = ares_set_servers_ports_csv(channel_, csv.c_str()); rc != ARES_SUCCESS) {
      ares_destroy(channel_);
      throw std::runtime_error("c-ares: cannot use DNS servers '" + csv +
                               "': " + ares_strerror(rc));
    }
  }
}

MxResolver::~MxResolver() {
  *alive_ = false;  // answers delivered by ares_destroy (EDESTRUCTION) are dropped
  timer_.cancel();
  ares_destroy(channel_);
  for (auto& [fd, s] : sockets_) {
    s->open = false;
    s->sd.release();
  }
}

void MxResolver::lookup(const std::string& domain, Done done) {
  ++pending_;
  auto* q = new Query{std::move(done), &io_, alive_, &pending_};
  ares_query(channel_, domain.c_str(), 1 /* C_IN */, 15 /* T_MX */, &MxResolver::on_answer, q);
  arm_timer();
}

void MxResolver::on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen) {
  std::unique_ptr<Query> q(static_cast<Query*>(arg));
  if (!*q->alive || status == ARES_EDESTRUCTION) return;
  --*q->pending;
  MxResult r;
  if (abuf && alen > 0) {
    r = parse_mx_response({abuf, static_cast<std::size_t>(alen)});
  } else {
    r.kind = MxResult::Kind::failure;
    if (status == ARES_ETIMEOUT)
      r.error = "timeout after " + std::to_string(timeouts) + " tries";
    else if (status == ARES_ECONNREFUSED)
      // c-ares moves on from a server that answers REFUSED or SERVFAIL, or
      // cannot be reached, and reports this when none is left.
      r.error = "every DNS server refused, failed or could not be reached";
    else
      r.error = ares_strerror(status);
  }
  // Never inside ares_query or ares_process_fd: the caller may start another
  // lookup from its handler.
  asio::post(*q->io, [done = std::move(q->done), alive = q->alive, r = std::move(r)]() mutable {
    if (*alive) done(std::move(r));
  });
}

void MxResolver::on_sock_state(void* data, int fd, int readable, int writable) {
  auto* self = static_cast<MxResolver*>(data);
  auto it = self->sockets_.find(fd);
  if (!readable && !writable) {
    // c-ares is about to close the fd: stop watching it first.
    if (it != self->sockets_.end()) {
      it->second->open = false;
      it->second->sd.release();
      self->sockets_.erase(it);
    }
    return;
  }
  std::shared_ptr<Socket> s;
  if (it == self->sockets_.end()) {
    s = std::make_shared<Socket>(self->io_, fd);
    self->sockets_.emplace(fd, s);
  } else {
    s = it->second;
  }
  s->want_read = readable;
  s->want_write = writable;
  if (s->want_read && !s->reading) self->watch(s, false);
  if (s->want_write && !s->writing) self->watch(s, true);
}

void MxResolver::watch(const std::shared_ptr<Socket>& s, bool write) {
  (write ? s->writing : s->reading) = true;
  s->sd.async_wait(
      write ? asio::posix::stream_descriptor::wait_write
            : asio::posix::stream_descriptor::wait_read,
      [this, s, write, alive = alive_](const boost::system::error_code& ec) {
        if (!*alive) return;
        (write ? s->writing : s->reading) = false;
        if (ec || !s->open) return;
        ares_process_fd(channel_, write ? ARES_SOCKET_BAD : s->fd, write ? s->fd : ARES_SOCKET_BAD);
        // Still wanted (and not closed meanwhile): wait again.
        if (s->open && (write ? s->want_write : s->want_read) && !(write ? s->writing : s->reading))
          watch(s, write);
        arm_timer();
      });
}

void MxResolver::arm_timer() {
  if (pending_ == 0) {
    timer_.cancel();
    return;
  }
  timeval tv{};
  timeval* next = ares_timeout(channel_, nullptr, &tv);
  auto wait = next ? std::chrono::seconds(next->tv_sec) + std::chrono::microseconds(next->tv_usec)
                   : std::chrono::microseconds(std::chrono::seconds(1));
  timer_.expires_after(wait);
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    // Resends and timeouts happen here.
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    arm_timer();
  });
}

MxLookup::MxLookup(asio::io_context& io, const DnsConfig& cfg, const Clock& clock,
                   metrics::Registry& registry)
    : cfg_(cfg),
      clock_(clock),
      resolver_(io, cfg),
      cache_(cfg.cache_entries),
      lookups_(registry.counter("streamguard_dns_lookups_total",
                                "MX lookups sent, by result (mx, null_mx, no_mx, nxdomain, "
                                "failure).",
                                {"result"})),
      cache_stats_(registry.counter("streamguard_dns_cache_total",
                                    "Operator lookups by how they were answered: hit (cache), "
                                    "miss (a query was sent), joined (waited for one in flight).",
                                    {"result"})),
      latency_(registry
                   .histogram("streamguard_dns_lookup_seconds", "Time an MX query took.", {},
                              {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})
                   .labels({})) {}

void MxLookup::reset(const DnsConfig& cfg) {
  cfg_ = cfg;
  cache_.clear();
}

void MxLookup::find(const std::string& domain, Done done) {
  if (const auto* e = cache_.find(domain, clock_.now_ms())) {
    cache_stats_.labels({"hit"}).inc();
    return done(e->result, true);
  }
  auto [it, first] = waiting_.try_emplace(domain);
  it->second.push_back(std::move(done));
  if (!first) {
    cache_stats_.labels({"joined"}).inc();
    return;
  }
  cache_stats_.labels({"miss"}).inc();
  auto start = Steady::now();
  resolver_.lookup(domain, [this, domain, start](MxResult r) {
    latency_.observe(std::chrono::duration<double>(Steady::now() - start).count());
    lookups_.labels({to_string(r.kind)}).inc();
    if (r.kind == MxResult::Kind::failure)
      spdlog::warn("dns: MX lookup of {} failed: {}", domain, r.error);
    cache_.store(domain, r, clock_.now_ms(), cfg_);
    auto node = waiting_.extract(domain);
    if (node.empty()) return;
    for (auto& d : node.mapped()) d(r, false);
  });
}

}  // namespace sg
