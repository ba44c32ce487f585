// streamguard-policyd's core running in-process for a test: the real
// PolicyService and PolicyServer on a unix socket in a temp folder, the Asio
// loop on its own thread, a FakeClock the test moves, and a real Redis.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>

#include "common/civil_time.hpp"
#include "policyd/policy_server.hpp"
#include "policyd/policy_service.hpp"
#include "recipient/runtime.hpp"
#include "tests/fakes/fake_clock.hpp"

namespace sg::testing {

// The shipped lists and operators, with the streams a test supplies.
inline std::string config_with_streams(const std::string& streams,
                                       const std::string& redis_section = "on_error = \"hold\"\n") {
  std::string lists = std::string(SG_SOURCE_DIR) + "/deploy/lists/";
  // policyd alone, as most tests run it: no rampd marks the Redis.
  const std::string alone =
      redis_section.find("expect_rampd") == std::string::npos ? "expect_rampd = false\n" : "";
  return "timezone = \"UTC\"\nlog_level = \"warn\"\n[redis]\n" + redis_section + alone +
         "\n[lists]\nyahoo_family = \"" + lists + "yahoo-family.txt\"\ndead_isp = \"" + lists +
         "dead-isp.txt\"\nconsumer = \"" + lists + "consumer-webmail.txt\"\ndirect_hisp = \"" +
         lists + "direct-hisp.txt\"\n" +
         "[operators.google]\ndomains = [\"gmail.com\", \"googlemail.com\", "
         "\"google-practice.example\"]\n"
         "[operators.microsoft]\ndomains = [\"outlook.com\", \"hotmail.com\", "
         "\"m365-clinic.example\"]\n"
         // No MX lookups, so no resolver built from the host's /etc/resolv.conf
         // (the tests that look MX up give their own dnsmasq: mx_operator_test).
         "[dns]\nenabled = false\n" +
         streams;
}

class PolicydHarness {
 public:
  PolicydHarness(const std::string& config_text, const std::string& redis_url) {
    char tmpl[] = "/tmp/sg-policyd-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    config_path_ = dir_ + "/streamguard.toml";
    write_config(config_text);
    auto rt = load_runtime(config_path_);
    if (!rt.runtime) {
      std::string all;
      for (const auto& e : rt.errors) all += e.to_string() + "\n";
      throw std::runtime_error("test config invalid:\n" + all);
    }
    set_process_timezone(rt.runtime->config->timezone);
    clock.set(1'795'000'000'000);  // 2026-11-19T09:46:40Z
    std::string err;
    auto url = parse_redis_url(redis_url, err);
    if (!url) throw std::runtime_error(err);
    service_ = std::make_unique<PolicyService>(io_, rt.runtime, *url, clock, registry);
    std::string sock = dir_ + "/policy.sock";
    server_ = std::make_unique<PolicyServer>(
        io_, *service_,
        PolicyServer::Options{{*parse_endpoint("unix:" + sock, err)}, 64, idle_timeout, {}});
    socket_ = sock;
    service_->start();
    thread_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io_);
      io_.run();
    });
  }

  const std::string& socket() const { return socket_; }
  const std::string& config_path() const { return config_path_; }

  void write_config(const std::string& text) { std::ofstream(config_path_) << text; }

  // Runs f on the loop thread and returns its result: the only safe way to
  // look at the service from the test thread.
  template <class F>
  auto on_loop(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return fut.get();
  }

  ~PolicydHarness() {
    on_loop([this] {
      server_.reset();
      return 0;
    });
    io_.stop();
    thread_.join();
    service_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  bool redis_ready() {
    return on_loop([this] { return service_->redis_ready(); });
  }

  // Bounded wait for the Redis connection (reconnects run on the real clock).
  bool wait_redis_ready(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (redis_ready()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  // Reload as SIGHUP does: a valid file replaces the runtime; returns the errors.
  std::vector<ConfigError> reload() {
    auto rt = load_runtime(config_path_);
    if (rt.runtime) {
      on_loop([this, r = rt.runtime] {
        service_->set_runtime(r);
        return 0;
      });
    }
    return rt.errors;
  }

  std::string metrics_text() { return registry.render(); }

  // One sweep of expired reservations, waited for.
  void sweep_reservations() {
    std::promise<void> swept;
    boost::asio::post(
        io_, [this, &swept] { service_->sweep_reservations([&swept] { swept.set_value(); }); });
    swept.get_future().wait();
  }

  std::string status_json() {
    return on_loop([this] { return service_->status_json(); });
  }

  FakeClock clock;
  metrics::Registry registry;
  std::chrono::seconds idle_timeout{300};

 private:
  boost::asio::io_context io_{1};
  std::string dir_, config_path_, socket_;
  std::unique_ptr<PolicyService> service_;
  std::unique_ptr<PolicyServer> server_;
  std::thread thread_;
};

}  // namespace sg::testing
