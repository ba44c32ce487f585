#include "store/redis_client.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cassert>

#include "store/sentinel_lookup.hpp"

namespace sg {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct RedisClient::Pending {
  Callback cb;
  Clock::time_point deadline;
  bool done = false;
};

// One hiredis connection and the descriptor Asio waits on. Shared with the
// wait handlers so a connection freed by hiredis inside a callback leaves
// them something valid to look at.
struct RedisClient::Link : std::enable_shared_from_this<Link> {
  Link(asio::io_context& io, RedisClient* o) : sd(io), owner(o) {}
  asio::posix::stream_descriptor sd;
  RedisClient* owner;
  redisAsyncContext* ac = nullptr;
  bool alive = false;
  bool want_read = false, want_write = false;
  bool read_armed = false, write_armed = false;

  void arm(asio::posix::stream_descriptor::wait_type type) {
    bool& armed = type == asio::posix::stream_descriptor::wait_read ? read_armed : write_armed;
    if (armed || !alive) return;
    armed = true;
    sd.async_wait(type, [self = shared_from_this(), type](boost::system::error_code ec) {
      bool is_read = type == asio::posix::stream_descriptor::wait_read;
      (is_read ? self->read_armed : self->write_armed) = false;
      if (ec || !self->alive) return;
      if (is_read && self->want_read) redisAsyncHandleRead(self->ac);
      if (!is_read && self->want_write) redisAsyncHandleWrite(self->ac);
      if (self->alive && (is_read ? self->want_read : self->want_write)) self->arm(type);
    });
  }

  static Link* of(void* p) { return static_cast<Link*>(p); }
  static void add_read(void* p) {
    of(p)->want_read = true;
    of(p)->arm(asio::posix::stream_descriptor::wait_read);
  }
  static void del_read(void* p) { of(p)->want_read = false; }
  static void add_write(void* p) {
    of(p)->want_write = true;
    of(p)->arm(asio::posix::stream_descriptor::wait_write);
  }
  static void del_write(void* p) { of(p)->want_write = false; }
  static void cleanup(void* p) {
    // hiredis is freeing the context and will close the descriptor itself.
    Link* l = of(p);
    l->alive = false;
    boost::system::error_code ignored;
    l->sd.cancel(ignored);
    l->sd.release();
    l->ac = nullptr;
  }
};

RedisClient::RedisClient(asio::io_context& io, RedisClientOptions options, RedisClientHooks hooks)
    : io_(io),
      options_(std::move(options)),
      hooks_(std::move(hooks)),
      deadline_timer_(io),
      reconnect_timer_(io),
      backoff_(options_.reconnect_min),
      sentinels_(options_.url.sentinels) {
  // After a failover the sentinels name the new master within a second or
  // two; a long backoff would only add to the time without a decision.
  if (options_.url.via_sentinel())
    options_.reconnect_max = std::min(options_.reconnect_max, std::chrono::milliseconds(500));
}

RedisClient::~RedisClient() {
  stopping_ = true;
  *alive_ = false;
  if (link_ && link_->ac) redisAsyncFree(link_->ac);
  // Anything still listed has been answered by redisAsyncFree above.
  assert(inflight_.empty());
}

void RedisClient::start() {
  connect();
}

std::string RedisClient::describe() const {
  if (!options_.url.via_sentinel()) return redis_node(options_.url.endpoint);
  const std::string master = "master '" + options_.url.master_name + "'";
  if (!named_by_) return master + " (not yet found by the sentinels)";
  return redis_node(node_) + " (" + master + ", named by sentinel " + redis_node(*named_by_) + ")";
}

void RedisClient::connect() {
  if (!options_.url.via_sentinel()) {
    open(options_.url.endpoint);
    return;
  }
  state_ = State::discovering;
  lookup_ = std::make_unique<SentinelLookup>(
      // A few hundred milliseconds per sentinel, as the Sentinel client spec
      // advises: a silent one must not hold up asking the next.
      io_, sentinels_, options_.url.master_name,
      std::min(options_.deadline, std::chrono::milliseconds(500)),
      [this](std::optional<SentinelLookup::Found> found, std::string why) {
        lookup_.reset();  // safe: the lookup calls this from a handler of its own
        if (stopping_) return;
        if (!found) {
          schedule_reconnect(why);
          return;
        }
        named_by_ = found->sentinel;
        open(found->master);
      });
  lookup_->start();
}

void RedisClient::open(const Endpoint& ep) {
  state_ = State::connecting;
  node_ = ep;
  redisAsyncContext* ac = ep.kind == Endpoint::Kind::unix_socket
                              ? redisAsyncConnectUnix(ep.path.c_str())
                              : redisAsyncConnect(ep.host.c_str(), ep.port);
  if (!ac || ac->err) {
    std::string why = ac ? ac->errstr : "out of memory";
    if (ac) redisAsyncFree(ac);
    schedule_reconnect(why);
    return;
  }
  link_ = std::make_shared<Link>(io_, this);
  link_->ac = ac;
  link_->alive = true;
  link_->sd.assign(ac->c.fd);
  ac->data = link_.get();
  ac->ev.data = link_.get();
  ac->ev.addRead = &Link::add_read;
  ac->ev.delRead = &Link::del_read;
  ac->ev.addWrite = &Link::add_write;
  ac->ev.delWrite = &Link::del_write;
  ac->ev.cleanup = &Link::cleanup;
  redisAsyncSetConnectCallback(ac, &connect_thunk);
  redisAsyncSetDisconnectCallback(ac, &disconnect_thunk);
  // A connect that never completes (a silent host) is bounded by the same
  // deadline as a command.
  auto self_alive = alive_;
  auto link = link_;
  reconnect_timer_.expires_after(options_.deadline * 4);
  reconnect_timer_.async_wait([this, self_alive, link](boost::system::error_code ec) {
    if (ec || !*self_alive || link != link_ || state_ != State::connecting) return;
    drop_connection("connect timed out");
  });
  // AUTH, SELECT and, with sentinels, ROLE go first in the pipeline. The link
  // is ready (and on_ready told) only once the last has answered well: a
  // wrong password is an outage, not a connection that flaps. A failure
  // drops the link.
  handshake_left_ = 0;
  handshake_failed_ = false;
  auto check = [this](const redisReply* r, std::string_view err) {
    if (!err.empty() || (r && r->type == REDIS_REPLY_ERROR)) {
      handshake_failed_ = true;
      drop_connection(r ? std::string_view(r->str, r->len) : err);
    }
    step_handshake();
  };
  const auto& url = options_.url;
  if (!url.password.empty()) {
    if (url.username.empty())
      handshake({"AUTH", url.password}, check);
    else
      handshake({"AUTH", url.username, url.password}, check);
  }
  if (url.db != 0) {
    std::string db = std::to_string(url.db);
    handshake({"SELECT", db}, check);
  }
  if (url.via_sentinel()) check_role();
}

void RedisClient::handshake(const std::vector<std::string_view>& argv, Callback cb) {
  ++handshake_left_;
  command(argv, std::move(cb));
}

void RedisClient::step_handshake() {
  if (handshake_left_ > 0 && --handshake_left_ == 0 && !handshake_failed_) become_ready();
}

// The spec's last step: a sentinel's answer may be stale (a failover in
// progress), so the node itself must say it is the master.
void RedisClient::check_role() {
  handshake({"ROLE"}, [this](const redisReply* r, std::string_view err) {
    if (!err.empty()) return;  // the link's own failure is handled where it happens
    const bool said = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                      r->element[0]->type == REDIS_REPLY_STRING;
    const std::string role = said ? std::string(r->element[0]->str, r->element[0]->len) : "";
    if (role == "master") {
      step_handshake();
      return;
    }
    handshake_failed_ = true;
    // That sentinel goes last: asked first again, a stale one would name the
    // same node forever while the others know the master.
    const auto it = std::find(sentinels_.begin(), sentinels_.end(), named_by_);
    if (it != sentinels_.end()) std::rotate(it, it + 1, sentinels_.end());
    drop_connection("the node says it is " + (said ? role : std::string("no master")) +
                    ", not the master (ROLE): asking the other sentinels");
  });
}

void RedisClient::connect_thunk(const redisAsyncContext* ac, int status) {
  Link::of(ac->data)->owner->on_connected(status);
}

void RedisClient::disconnect_thunk(const redisAsyncContext* ac, int status) {
  Link::of(ac->data)->owner->on_disconnected(status);
}

void RedisClient::on_connected(int status) {
  if (status != REDIS_OK) {
    std::string why = link_ && link_->ac ? link_->ac->errstr : "connect failed";
    // hiredis frees the context after this callback returns.
    schedule_reconnect(why);
    return;
  }
  if (handshake_left_ == 0) become_ready();
}

void RedisClient::become_ready() {
  state_ = State::ready;
  down_reported_ = false;
  backoff_ = options_.reconnect_min;
  reconnect_timer_.cancel();
  if (hooks_.on_ready) hooks_.on_ready();
}

void RedisClient::on_disconnected(int status) {
  // hiredis frees the context after this callback returns.
  std::string why =
      status == REDIS_OK ? "closed" : (link_ && link_->ac ? link_->ac->errstr : "lost");
  if (stopping_) return;
  schedule_reconnect(why);
}

void RedisClient::schedule_reconnect(std::string_view why) {
  state_ = State::backoff;
  // Told once per outage: the retries that follow say nothing new.
  if (!down_reported_ && hooks_.on_down) {
    down_reported_ = true;
    hooks_.on_down(why);
  }
  if (stopping_) return;
  auto self_alive = alive_;
  reconnect_timer_.expires_after(backoff_);
  reconnect_timer_.async_wait([this, self_alive](boost::system::error_code ec) {
    if (ec || !*self_alive || state_ != State::backoff) return;
    connect();
  });
  backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
}

void RedisClient::drop_connection(std::string_view why) {
  if (!link_ || !link_->ac) return;
  std::string reason(why);
  redisAsyncContext* ac = link_->ac;
  // Free outside hiredis's own call stack: drop_connection may run from a reply.
  asio::post(io_, [this, ac, reason, link = link_, self_alive = alive_] {
    if (!*self_alive || link != link_ || link->ac != ac) return;
    ac->onDisconnect = nullptr;  // we decide what follows, not the callback
    redisAsyncFree(ac);
    schedule_reconnect(reason);
  });
}

void RedisClient::fail_later(Callback cb, std::string error) {
  if (hooks_.on_error) hooks_.on_error("unavailable");
  asio::post(io_, [cb = std::move(cb), error = std::move(error)] { cb(nullptr, error); });
}

void RedisClient::command(const std::vector<std::string_view>& argv, Callback cb) {
  if (!link_ || !link_->ac || !link_->alive ||
      (state_ != State::ready && state_ != State::connecting)) {
    fail_later(std::move(cb), "redis unavailable");
    return;
  }
  std::vector<const char*> args;
  std::vector<size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (auto a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* p = new Pending{std::move(cb), Clock::now() + options_.deadline};
  if (redisAsyncCommandArgv(link_->ac, &reply_thunk, p, static_cast<int>(args.size()), args.data(),
                            lens.data()) != REDIS_OK) {
    Callback failed = std::move(p->cb);
    delete p;
    fail_later(std::move(failed), "redis unavailable");
    return;
  }
  inflight_.push_back(p);
  arm_deadline();
}

void RedisClient::reply_thunk(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* p = static_cast<Pending*>(privdata);
  RedisClient* self = Link::of(ac->data)->owner;
  assert(!self->inflight_.empty() && self->inflight_.front() == p);
  self->inflight_.pop_front();
  if (!p->done) {
    p->done = true;
    auto* r = static_cast<redisReply*>(reply);
    if (r) {
      const bool error = r->type == REDIS_REPLY_ERROR;
      if (error && self->hooks_.on_error) self->hooks_.on_error("reply");
      p->cb(r, {});
      // A replica refuses writes: the node was demoted by a failover while
      // this link stayed up. Only a new link (and, with sentinels, a new
      // lookup) finds the master.
      if (error && std::string_view(r->str, r->len).find("READONLY") != std::string_view::npos)
        self->drop_connection("the node answered READONLY (it is a replica now); reconnecting");
    } else {
      if (self->hooks_.on_error) self->hooks_.on_error("disconnected");
      p->cb(nullptr, "redis connection lost");
    }
  }
  delete p;
}

void RedisClient::arm_deadline() {
  if (deadline_armed_) return;
  // The timer follows the oldest command still waiting for its answer.
  const Pending* next = nullptr;
  for (const Pending* p : inflight_)
    if (!p->done) {
      next = p;
      break;
    }
  if (!next) return;
  deadline_armed_ = true;
  deadline_timer_.expires_at(next->deadline);
  deadline_timer_.async_wait([this, self_alive = alive_](boost::system::error_code ec) {
    if (!*self_alive) return;
    deadline_armed_ = false;
    if (!ec) on_deadline();
    arm_deadline();
  });
}

void RedisClient::on_deadline() {
  auto now = Clock::now();
  bool missed = false;
  for (Pending* p : inflight_) {
    if (p->deadline > now) break;
    if (p->done) continue;
    p->done = true;
    missed = true;
    if (hooks_.on_error) hooks_.on_error("timeout");
    p->cb(nullptr, "redis deadline missed");
  }
  // Redis answers in order: once the oldest command is late, everything behind
  // it is too. A fresh connection beats waiting on a stuck one.
  if (missed) drop_connection("deadline missed");
}

}  // namespace sg
