// deploy/prometheus/: the alert rules pass promtool's check and their own
// unit tests (streamguard-alerts.test.yml), every query of the Grafana
// dashboard parses, and every metric either of them reads is one a daemon
// exports, so renaming a metric cannot leave an alert that never fires.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "common/command.hpp"

#ifndef SG_PROMTOOL
#error "SG_PROMTOOL must name promtool (find_program in tests/CMakeLists.txt)"
#endif

namespace sg {
namespace {

namespace fs = std::filesystem;
const std::string kDir = SG_SOURCE_DIR "/deploy/prometheus";

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs promtool; the test fails with its output when it does not exit 0.
void promtool(const std::vector<std::string>& args) {
  const std::string tool = SG_PROMTOOL;
  ASSERT_FALSE(tool.empty() || tool.ends_with("NOTFOUND"))
      << "promtool not found: scripts/install-deps installs Debian's prometheus package";
  std::vector<std::string> argv{tool};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = command::run(argv, 60'000);
  EXPECT_TRUE(r.ok()) << r.error << "\n" << r.out << r.err;
}

std::vector<std::string> dashboard_queries() {
  auto d = nlohmann::json::parse(read_all(kDir + "/grafana-dashboard.json"));
  std::vector<std::string> out;
  for (const auto& p : d.at("panels"))
    for (const auto& t : p.at("targets")) out.push_back(t.at("expr").get<std::string>());
  return out;
}

TEST(PrometheusRules, AlertsPassPromtoolsCheckAndTheirUnitTests) {
  promtool({"check", "rules", kDir + "/streamguard-alerts.yml"});
  promtool({"test", "rules", kDir + "/streamguard-alerts.test.yml"});
  promtool({"check", "config", kDir + "/prometheus-scrape.yml"});
}

// Each panel's query, written as a recording rule, through promtool's parser.
TEST(PrometheusRules, EveryDashboardQueryParses) {
  auto queries = dashboard_queries();
  ASSERT_GE(queries.size(), 10u);
  const fs::path file =
      fs::temp_directory_path() / ("sg-dashboard-" + std::to_string(::getpid()) + ".yml");
  {
    std::ofstream out(file);
    out << "groups:\n  - name: dashboard\n    rules:\n";
    for (std::size_t i = 0; i < queries.size(); ++i)
      out << "      - record: dashboard_query_" << i
          << "\n        expr: " << nlohmann::json(queries[i]).dump()
          << "\n";  // a JSON string is a YAML string
  }
  promtool({"check", "rules", file.string()});
  fs::remove(file);
}

// Every streamguard_* name in the alerts and the dashboard is a string
// literal in the daemons' sources (where the registry is given it).
TEST(PrometheusRules, EveryMetricTheyReadIsOneADaemonExports) {
  std::string sources;
  for (const char* dir : {"policyd", "milter", "rampd", "server", "store", "common", "recipient"})
    for (const auto& e : fs::recursive_directory_iterator(std::string(SG_SOURCE_DIR) + "/" + dir))
      if (e.path().extension() == ".cpp" || e.path().extension() == ".hpp")
        sources += read_all(e.path().string());

  std::string texts = read_all(kDir + "/streamguard-alerts.yml");
  for (const auto& q : dashboard_queries()) texts += "\n" + q;
  static const std::regex name(R"(\bstreamguard_[a-z_]+)");
  std::set<std::string> names;
  for (auto it = std::sregex_iterator(texts.begin(), texts.end(), name);
       it != std::sregex_iterator(); ++it) {
    std::string n = it->str();
    for (const char* suffix : {"_bucket", "_count", "_sum"})
      if (n.ends_with(suffix) && n.find("_seconds") != std::string::npos)
        n.resize(n.size() - std::string(suffix).size());
    names.insert(n);
  }
  ASSERT_GE(names.size(), 10u);
  for (const auto& n : names)
    EXPECT_NE(sources.find('"' + n + '"'), std::string::npos)
        << n << " is read by deploy/prometheus/ but no daemon exports it";
}

}  // namespace
}  // namespace sg
