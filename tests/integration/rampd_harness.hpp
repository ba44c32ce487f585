// streamguard-rampd's rounds run in the test's own thread against a real
// Redis, with the time passed in (the test's injected clock).
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/civil_time.hpp"
#include "common/config.hpp"
#include "common/redis_url.hpp"
#include "rampd/rampd.hpp"

namespace sg::testing {

class RampdHarness {
 public:
  RampdHarness(const std::string& config_text, const std::string& redis_url) {
    char tmpl[] = "/tmp/sg-rampd-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    const std::string path = dir_ + "/streamguard.toml";
    std::ofstream(path) << config_text;
    auto loaded = load_config(path);
    if (!loaded.config) {
      std::string all;
      for (const auto& e : loaded.errors) all += e.to_string() + "\n";
      throw std::runtime_error("test config invalid:\n" + all);
    }
    set_process_timezone(loaded.config->timezone);
    std::string err;
    auto url = parse_redis_url(redis_url, err);
    if (!url) throw std::runtime_error(err);
    redis_ = std::make_unique<RedisClient>(
        io_, RedisClientOptions{*url, std::chrono::milliseconds(2000)},
        RedisClientHooks{[this] {
                           if (app_) app_->load_scripts();
                         },
                         {},
                         {}});
    // The state file in the test's folder, never the shipped default's.
    auto cfg = std::make_shared<Config>(*loaded.config);
    if (cfg->rampd.state_file == RampdConfig{}.state_file)
      cfg->rampd.state_file = dir_ + "/rampd-state.json";
    app_ = std::make_unique<rampd::Rampd>(io_, *redis_, cfg);
    redis_->start();
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    auto guard = boost::asio::make_work_guard(io_);
    while (!redis_->connected() && std::chrono::steady_clock::now() < end)
      io_.run_for(std::chrono::milliseconds(10));
    if (!redis_->connected()) throw std::runtime_error("rampd harness: Redis not reachable");
  }

  ~RampdHarness() {
    app_.reset();
    redis_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const std::string& dir() const { return dir_; }
  rampd::Rampd& app() { return *app_; }

  void ramp_round(int64_t now_ms) { run(app_->ramp_round(now_ms)); }
  void log_round(int64_t now_ms) { run(app_->log_round(now_ms)); }
  void drain_round(int64_t now_ms) { run(app_->drain_round(now_ms)); }
  // Runs the loop until `done` holds (a reply awaited by callback), at most
  // `limit` (10 s).
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto guard = boost::asio::make_work_guard(io_);
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) {
      if (io_.stopped()) io_.restart();
      io_.run_for(std::chrono::milliseconds(5));
    }
    return done();
  }

 private:
  void run(boost::asio::awaitable<void> work) {
    bool done = false;
    std::exception_ptr failure;
    boost::asio::co_spawn(io_, std::move(work), [&](std::exception_ptr e) {
      failure = e;
      done = true;
    });
    auto guard = boost::asio::make_work_guard(io_);
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done && std::chrono::steady_clock::now() < end) {
      if (io_.stopped()) io_.restart();
      io_.run_for(std::chrono::milliseconds(5));
    }
    if (!done) throw std::runtime_error("rampd round did not finish within 30 s");
    if (failure) std::rethrow_exception(failure);
  }

  std::string dir_;
  boost::asio::io_context io_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<rampd::Rampd> app_;
};

}  // namespace sg::testing
