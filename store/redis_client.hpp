// An asynchronous Redis connection driven by the Asio loop: hiredis's async
// API with a small adapter that turns its add/del read/write hooks into
// descriptor waits. Many commands are in flight at once on one connection
// (hiredis writes them back to back: pipelining). hiredis 0.14 has no async
// timeouts, so every command carries a deadline kept here with one Asio timer
// over the FIFO of commands in flight (Redis answers in order). A missed
// deadline fails the command and drops the connection; the client then
// reconnects on its own with backoff. While disconnected, commands fail at
// once: callers take their degraded path, never wait.
//
// With a sentinel:// URL every connect starts by asking the sentinels where
// the master is (SentinelLookup), then checks with ROLE that the node it
// reached is the master. A node that answers READONLY has become a replica
// (a failover while the link stayed up): the link is dropped and the
// sentinels are asked again.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/redis_url.hpp"

struct redisReply;
struct redisAsyncContext;

namespace sg {

class SentinelLookup;

struct RedisClientOptions {
  RedisUrl url;
  std::chrono::milliseconds deadline{250};
  std::chrono::milliseconds reconnect_min{50};
  std::chrono::milliseconds reconnect_max{2000};
};

// Optional observers, called on the loop thread.
struct RedisClientHooks {
  std::function<void()> on_ready;                       // connected, AUTH/SELECT/ROLE answered well
  std::function<void(std::string_view)> on_down;        // lost or failed, why; once per outage
  std::function<void(std::string_view kind)> on_error;  // "timeout", "unavailable", "reply", ...
};

class RedisClient {
 public:
  // reply is null when error is set. The callback runs exactly once, on the
  // loop thread; never from inside command().
  using Callback = std::function<void(const redisReply* reply, std::string_view error)>;

  RedisClient(boost::asio::io_context& io, RedisClientOptions options, RedisClientHooks hooks = {});
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  void start();
  void command(const std::vector<std::string_view>& argv, Callback cb);
  bool connected() const { return state_ == State::ready; }
  std::size_t in_flight() const { return inflight_.size(); }
  // The node in use or last tried, for logs: "127.0.0.1:6379", or with
  // sentinels "127.0.0.1:6380 (master 'sg', named by sentinel 127.0.0.1:26379)".
  std::string describe() const;

 private:
  struct Link;
  struct Pending;
  enum class State { idle, discovering, connecting, ready, backoff };

  void connect();  // the node, or first the sentinels' lookup
  void open(const Endpoint& node);
  void check_role();
  void handshake(const std::vector<std::string_view>& argv, Callback cb);
  void step_handshake();
  void become_ready();
  void schedule_reconnect(std::string_view why);
  void on_connected(int status);
  void on_disconnected(int status);
  void arm_deadline();
  void on_deadline();
  void fail_later(Callback cb, std::string error);
  void drop_connection(std::string_view why);

  static void reply_thunk(redisAsyncContext* ac, void* reply, void* privdata);
  static void connect_thunk(const redisAsyncContext* ac, int status);
  static void disconnect_thunk(const redisAsyncContext* ac, int status);

  boost::asio::io_context& io_;
  RedisClientOptions options_;
  RedisClientHooks hooks_;
  State state_ = State::idle;
  std::shared_ptr<Link> link_;
  std::deque<Pending*> inflight_;
  boost::asio::steady_timer deadline_timer_;
  bool deadline_armed_ = false;
  boost::asio::steady_timer reconnect_timer_;
  std::chrono::milliseconds backoff_;
  bool stopping_ = false;
  bool down_reported_ = false;
  int handshake_left_ = 0;  // AUTH/SELECT/ROLE replies the link still waits for
  bool handshake_failed_ = false;
  std::vector<Endpoint> sentinels_;  // asking order: the last to answer first
  std::unique_ptr<SentinelLookup> lookup_;
  Endpoint node_;
  std::optional<Endpoint> named_by_;  // the sentinel that named node_
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sg
