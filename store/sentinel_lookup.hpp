// Finds the current master of a Redis Sentinel group the way Redis's
// Sentinel client spec asks: each sentinel in turn, with a short deadline, is
// asked SENTINEL get-master-addr-by-name NAME; the first that names an
// address wins and moves to the front of the list, so the next lookup asks
// the sentinel that answered last first. The caller connects to the address
// and checks with ROLE that it really is the master (RedisClient).
//
// The address must be a literal IP (Sentinel's default): a host name would
// need the resolver, which streamguard's Redis connections never ask.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/endpoint.hpp"

struct redisReply;

namespace sg {

class RedisClient;

class SentinelLookup {
 public:
  struct Found {
    Endpoint master;
    Endpoint sentinel;  // the one that named it
  };
  // Called once, from a handler of its own (the lookup may be destroyed in
  // it): the master, or nullopt and each sentinel's answer.
  using Done = std::function<void(std::optional<Found> found, std::string why)>;

  // `sentinels` is reordered in place and must outlive the lookup.
  SentinelLookup(boost::asio::io_context& io, std::vector<Endpoint>& sentinels,
                 std::string master_name, std::chrono::milliseconds deadline, Done done);
  ~SentinelLookup();
  SentinelLookup(const SentinelLookup&) = delete;
  SentinelLookup& operator=(const SentinelLookup&) = delete;

  void start();

 private:
  void ask(std::size_t i);
  void answered(std::size_t i, const redisReply* reply, std::string_view error);
  void finish(std::optional<Found> found);

  boost::asio::io_context& io_;
  std::vector<Endpoint>& sentinels_;
  std::string master_name_;
  std::chrono::milliseconds deadline_;
  Done done_;
  std::unique_ptr<RedisClient> probe_;
  std::string why_;  // what each sentinel said, for the caller's log
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sg
