// A real Redis Sentinel group on 127.0.0.1 for one test: a master, one
// replica and three sentinels (Debian's redis-sentinel) watching it under
// the name "sg", with a quorum of two. Every Redis node wants the ACL user
// streamguard and its password (the replica and the sentinels are told them
// too); the default user is off, so a client that does not authenticate is
// refused. A node is declared down after one second without an answer.
#pragma once

#include <chrono>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/redis_server.hpp"

namespace sg::testing {

class SentinelGroup {
 public:
  static constexpr const char* kUser = "streamguard";
  static constexpr const char* kPassword = "s3cret-for-the-test";

  SentinelGroup() {
    const uint16_t master_port = free_loopback_port();
    master_ = std::make_unique<RedisServer>(node_options({}), master_port, auth());
    const std::vector<std::string> follow = {"--replicaof", "127.0.0.1",
                                             std::to_string(master_port)};
    replica_ = std::make_unique<RedisServer>(node_options(follow), free_loopback_port(), auth());
    wait_for(
        [&] {
          return replica_->cmd({"INFO", "replication"}).find("master_link_status:up");
        },
        "the replica to sync");
    for (int i = 0; i < 3; ++i) start_sentinel(master_port);
    // Ready for a failover: every sentinel sees the replica and the two
    // other sentinels (they find each other through the master, every 2 s).
    wait_for(
        [&] {
          for (uint16_t s : sentinel_ports_) {
            if (sentinel(s, {"SENTINEL", "replicas", "sg"}).find("slave") == std::string::npos)
              return std::string::npos;
            if (count_of(sentinel(s, {"SENTINEL", "sentinels", "sg"}), "name") < 2)
              return std::string::npos;
          }
          return std::size_t{0};
        },
        "the sentinels to see the replica and each other");
  }
  ~SentinelGroup() {
    for (pid_t p : sentinel_pids_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  RedisServer& master() { return *master_; }
  RedisServer& replica() { return *replica_; }
  const std::vector<uint16_t>& sentinel_ports() const { return sentinel_ports_; }
  const std::string& dir() const { return dir_; }  // the sentinels' files

  // sentinel://streamguard:PASSWORD@127.0.0.1:S1,127.0.0.1:S2,127.0.0.1:S3/sg
  std::string url() const {
    std::string out = std::string("sentinel://") + kUser + ":" + kPassword + "@";
    for (std::size_t i = 0; i < sentinel_ports_.size(); ++i)
      out += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(sentinel_ports_[i]);
    return out + "/sg";
  }

  // The master's port as the first sentinel that answers names it; 0 if none.
  uint16_t master_port_named() const {
    for (uint16_t s : sentinel_ports_) {
      const std::string a = sentinel(s, {"SENTINEL", "get-master-addr-by-name", "sg"});
      const auto comma = a.find(',');
      if (comma != std::string::npos) return static_cast<uint16_t>(std::stoi(a.substr(comma + 1)));
    }
    return 0;
  }

  static std::string sentinel(uint16_t port, const std::vector<std::string>& argv) {
    return tcp_command(port, argv);
  }

 private:
  static RedisAuth auth() { return {kUser, kPassword}; }

  static std::vector<std::string> node_options(std::vector<std::string> more) {
    // One token per word: redis-server joins them into the config line.
    std::vector<std::string> out = {"--user",
                                    "default",
                                    "off",
                                    "--user",
                                    kUser,
                                    "on",
                                    std::string(">") + kPassword,
                                    "~*",
                                    "&*",
                                    "+@all",
                                    "--masteruser",
                                    kUser,
                                    "--masterauth",
                                    kPassword};
    out.insert(out.end(), more.begin(), more.end());
    return out;
  }

  void start_sentinel(uint16_t master_port) {
    if (dir_.empty()) {
      char tmpl[] = "/tmp/sg-sentinel-XXXXXX";
      if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
      dir_ = tmpl;
    }
    const uint16_t port = free_loopback_port();
    // Sentinel rewrites its file as it learns: one per sentinel, writable.
    const std::string conf = dir_ + "/sentinel-" + std::to_string(port) + ".conf";
    std::ofstream(conf) << "port " << port << "\nbind 127.0.0.1\ndir " << dir_
                        << "\nsentinel monitor sg 127.0.0.1 " << master_port
                        << " 2\nsentinel down-after-milliseconds sg 1000\n"
                           "sentinel failover-timeout sg 10000\n"
                           "sentinel parallel-syncs sg 1\n"
                           "sentinel auth-user sg "
                        << kUser << "\nsentinel auth-pass sg " << kPassword << "\n";
    sentinel_pids_.push_back(spawn_quiet({"redis-sentinel", conf, "--loglevel", "warning"},
                                         dir_ + "/sentinel-" + std::to_string(port) + ".log"));
    sentinel_ports_.push_back(port);
    wait_for([&] { return sentinel(port, {"PING"}).find("PONG"); },
             "redis-sentinel to start (is it installed?)");
  }

  static std::size_t count_of(const std::string& text, const std::string& word) {
    std::size_t n = 0;
    for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
    return n;
  }

  // Bounded: 20 s for what takes 2 to 4 here.
  template <class F>
  static void wait_for(F found, const char* what) {
    for (int i = 0; i < 400; ++i) {
      if (found() != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error(std::string("timed out waiting for ") + what);
  }

  std::unique_ptr<RedisServer> master_, replica_;
  std::string dir_;
  std::vector<uint16_t> sentinel_ports_;
  std::vector<pid_t> sentinel_pids_;
};

}  // namespace sg::testing
