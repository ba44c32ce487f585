#include "common/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace sg::metrics {
namespace {

TEST(MetricsTest, CounterWithoutLabelsRendersZeroBeforeFirstUse) {
  Registry r;
  r.counter("sg_requests_total", "Requests handled.");
  EXPECT_EQ(r.render(),
            "# HELP sg_requests_total Requests handled.\n"
            "# TYPE sg_requests_total counter\n"
            "sg_requests_total 0\n");
}

TEST(MetricsTest, CounterWithoutLabels) {
  Registry r;
  Counter& c = r.counter("sg_requests_total", "Requests handled.").labels({});
  c.inc();
  c.inc(2);
  EXPECT_EQ(c.value(), 3.0);
  EXPECT_EQ(r.render(),
            "# HELP sg_requests_total Requests handled.\n"
            "# TYPE sg_requests_total counter\n"
            "sg_requests_total 3\n");
  c.inc(0.5);
  EXPECT_EQ(r.render(),
            "# HELP sg_requests_total Requests handled.\n"
            "# TYPE sg_requests_total counter\n"
            "sg_requests_total 3.5\n");
}

TEST(MetricsTest, CounterWithLabelsSortedByLabelValues) {
  Registry r;
  auto& f = r.counter("sg_verdicts_total", "Verdicts by action.", {"action", "reason"});
  f.labels({"reject", "rbl"}).inc(2);
  f.labels({"accept", "ok"}).inc();
  f.labels({"reject", "limit"}).inc(7);
  // The same values give the same series.
  f.labels({"accept", "ok"}).inc();
  EXPECT_EQ(r.render(),
            "# HELP sg_verdicts_total Verdicts by action.\n"
            "# TYPE sg_verdicts_total counter\n"
            "sg_verdicts_total{action=\"accept\",reason=\"ok\"} 2\n"
            "sg_verdicts_total{action=\"reject\",reason=\"limit\"} 7\n"
            "sg_verdicts_total{action=\"reject\",reason=\"rbl\"} 2\n");
}

TEST(MetricsTest, LabelledFamilyWithoutSeriesRendersOnlyHeader) {
  Registry r;
  r.counter("sg_x_total", "X.", {"kind"});
  EXPECT_EQ(r.render(), "# HELP sg_x_total X.\n# TYPE sg_x_total counter\n");
}

TEST(MetricsTest, SeriesReferenceStaysValid) {
  Registry r;
  auto& f = r.counter("sg_x_total", "X.", {"k"});
  Counter& first = f.labels({"a"});
  for (int i = 0; i < 1000; ++i) f.labels({std::to_string(i)});
  EXPECT_EQ(&first, &f.labels({"a"}));
}

TEST(MetricsTest, GaugeValues) {
  Registry r;
  auto& f = r.gauge("sg_temperature", "A gauge.", {"where"});
  f.labels({"a"}).set(-1.5);
  f.labels({"b"}).set(0.1);
  f.labels({"c"}).set(1.0 / 3.0);
  f.labels({"d"}).set(42);
  f.labels({"e"}).set(1e20);
  f.labels({"f"}).set(std::numeric_limits<double>::infinity());
  f.labels({"g"}).set(-std::numeric_limits<double>::infinity());
  f.labels({"h"}).set(std::nan(""));
  f.labels({"i"}).set(2.5e-7);
  f.labels({"j"}).set(-0.0);
  Gauge& k = f.labels({"k"});
  k.set(10);
  k.add(-12.25);
  EXPECT_EQ(r.render(),
            "# HELP sg_temperature A gauge.\n"
            "# TYPE sg_temperature gauge\n"
            "sg_temperature{where=\"a\"} -1.5\n"
            "sg_temperature{where=\"b\"} 0.1\n"
            "sg_temperature{where=\"c\"} 0.3333333333333333\n"
            "sg_temperature{where=\"d\"} 42\n"
            "sg_temperature{where=\"e\"} 1e+20\n"
            "sg_temperature{where=\"f\"} +Inf\n"
            "sg_temperature{where=\"g\"} -Inf\n"
            "sg_temperature{where=\"h\"} NaN\n"
            "sg_temperature{where=\"i\"} 2.5e-07\n"
            "sg_temperature{where=\"j\"} 0\n"
            "sg_temperature{where=\"k\"} -2.25\n");
}

TEST(MetricsTest, LargeIntegersHaveNoDecimalPoint) {
  Registry r;
  Gauge& g = r.gauge("sg_big", "Big.").labels({});
  g.set(1234567890123.0);
  EXPECT_EQ(r.render(), "# HELP sg_big Big.\n# TYPE sg_big gauge\nsg_big 1234567890123\n");
}

TEST(MetricsTest, HistogramWithoutLabels) {
  Registry r;
  auto& f = r.histogram("sg_latency_seconds", "Latency.", {}, {0.001, 0.01, 0.1, 1});
  Histogram& h = f.labels({});
  h.observe(0.0005);
  h.observe(0.001);  // on the bound: le is inclusive
  h.observe(0.05);
  h.observe(0.5);
  h.observe(3);
  EXPECT_EQ(r.render(),
            "# HELP sg_latency_seconds Latency.\n"
            "# TYPE sg_latency_seconds histogram\n"
            "sg_latency_seconds_bucket{le=\"0.001\"} 2\n"
            "sg_latency_seconds_bucket{le=\"0.01\"} 2\n"
            "sg_latency_seconds_bucket{le=\"0.1\"} 3\n"
            "sg_latency_seconds_bucket{le=\"1\"} 4\n"
            "sg_latency_seconds_bucket{le=\"+Inf\"} 5\n"
            "sg_latency_seconds_sum 3.5515\n"
            "sg_latency_seconds_count 5\n");
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.cumulative(), (std::vector<uint64_t>{2, 2, 3, 4, 5}));
}

TEST(MetricsTest, HistogramWithLabels) {
  Registry r;
  auto& f = r.histogram("sg_size_bytes", "Sizes.", {"dir"}, {10, 100});
  f.labels({"out"}).observe(50);
  f.labels({"in"}).observe(5);
  f.labels({"in"}).observe(500);
  EXPECT_EQ(r.render(),
            "# HELP sg_size_bytes Sizes.\n"
            "# TYPE sg_size_bytes histogram\n"
            "sg_size_bytes_bucket{dir=\"in\",le=\"10\"} 1\n"
            "sg_size_bytes_bucket{dir=\"in\",le=\"100\"} 1\n"
            "sg_size_bytes_bucket{dir=\"in\",le=\"+Inf\"} 2\n"
            "sg_size_bytes_sum{dir=\"in\"} 505\n"
            "sg_size_bytes_count{dir=\"in\"} 2\n"
            "sg_size_bytes_bucket{dir=\"out\",le=\"10\"} 0\n"
            "sg_size_bytes_bucket{dir=\"out\",le=\"100\"} 1\n"
            "sg_size_bytes_bucket{dir=\"out\",le=\"+Inf\"} 1\n"
            "sg_size_bytes_sum{dir=\"out\"} 50\n"
            "sg_size_bytes_count{dir=\"out\"} 1\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Registry r;
  Histogram& h = r.histogram("sg_h", "H.", {}, {1, 2, 3}).labels({});
  EXPECT_EQ(h.cumulative(), (std::vector<uint64_t>{0, 0, 0, 0}));
  for (double v : {0.5, 1.5, 1.7, 2.5, 2.6, 2.7, 10.0}) h.observe(v);
  std::vector<uint64_t> cum = h.cumulative();
  EXPECT_EQ(cum, (std::vector<uint64_t>{1, 3, 6, 7}));
  for (std::size_t i = 1; i < cum.size(); ++i) EXPECT_LE(cum[i - 1], cum[i]);
  EXPECT_EQ(cum.back(), h.count());
  EXPECT_DOUBLE_EQ(h.sum(), 21.5);
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Registry r;
  auto& f = r.counter("sg_esc_total", "Escaping.", {"v"});
  f.labels({"a\\b\"c\nd"}).inc();
  EXPECT_EQ(r.render(),
            "# HELP sg_esc_total Escaping.\n"
            "# TYPE sg_esc_total counter\n"
            "sg_esc_total{v=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(MetricsTest, HelpIsEscapedButQuotesAreKept) {
  Registry r;
  r.gauge("sg_help", "back\\slash \"quoted\"\nsecond line");
  EXPECT_EQ(r.render(),
            "# HELP sg_help back\\\\slash \"quoted\"\\nsecond line\n"
            "# TYPE sg_help gauge\n"
            "sg_help 0\n");
}

TEST(MetricsTest, FamiliesRenderInDeclarationOrder) {
  Registry r;
  r.gauge("sg_b", "B.");
  r.histogram("sg_c", "C.", {}, {1});
  r.counter("sg_a_total", "A.");
  EXPECT_EQ(r.render(),
            "# HELP sg_b B.\n# TYPE sg_b gauge\nsg_b 0\n"
            "# HELP sg_c C.\n# TYPE sg_c histogram\n"
            "sg_c_bucket{le=\"1\"} 0\nsg_c_bucket{le=\"+Inf\"} 0\nsg_c_sum 0\nsg_c_count 0\n"
            "# HELP sg_a_total A.\n# TYPE sg_a_total counter\nsg_a_total 0\n");
}

TEST(MetricsTest, RedeclaringTheSameFamilyReturnsIt) {
  Registry r;
  auto& a = r.counter("sg_x_total", "X.", {"k"});
  auto& b = r.counter("sg_x_total", "Other help is ignored.", {"k"});
  EXPECT_EQ(&a, &b);
  auto& h1 = r.histogram("sg_h", "H.", {}, {1, 2});
  auto& h2 = r.histogram("sg_h", "H.", {}, {1, 2});
  EXPECT_EQ(&h1, &h2);
  a.labels({"v"}).inc();
  EXPECT_EQ(r.render(),
            "# HELP sg_x_total X.\n# TYPE sg_x_total counter\nsg_x_total{k=\"v\"} 1\n"
            "# HELP sg_h H.\n# TYPE sg_h histogram\n"
            "sg_h_bucket{le=\"1\"} 0\nsg_h_bucket{le=\"2\"} 0\nsg_h_bucket{le=\"+Inf\"} 0\n"
            "sg_h_sum 0\nsg_h_count 0\n");
}

TEST(MetricsTest, ConcurrentIncrementsSumExactly) {
  Registry r;
  auto& f = r.counter("sg_c_total", "C.", {"k"});
  Histogram& h = r.histogram("sg_h", "H.", {}, {0.5}).labels({});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&f, &h, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Every thread also looks the shared series up, racing on the family map.
        f.labels({"shared"}).inc();
        f.labels({"t" + std::to_string(t)}).inc(2);
        h.observe(i % 2 ? 1.0 : 0.25);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(f.labels({"shared"}).value(), kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(f.labels({"t" + std::to_string(t)}).value(), 2.0 * kPerThread);
  EXPECT_EQ(h.count(), uint64_t{kThreads * kPerThread});
  EXPECT_EQ(h.cumulative(),
            (std::vector<uint64_t>{kThreads * kPerThread / 2, uint64_t{kThreads * kPerThread}}));
  EXPECT_EQ(h.sum(), kThreads * (kPerThread / 2) * 1.25);
}

using MetricsDeathTest = ::testing::Test;

TEST(MetricsDeathTest, NegativeCounterIncrementAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry r;
  Counter& c = r.counter("sg_x_total", "X.").labels({});
  EXPECT_DEATH(c.inc(-1), "negative");
}

TEST(MetricsDeathTest, WrongNumberOfLabelValuesAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry r;
  auto& f = r.counter("sg_x_total", "X.", {"a", "b"});
  EXPECT_DEATH(f.labels({"only-one"}), "sg_x_total has labels \\[a, b\\] but was given 1");
}

TEST(MetricsDeathTest, RedeclaringWithOtherKindOrLabelsAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry r;
  r.counter("sg_x_total", "X.", {"a"});
  r.histogram("sg_h", "H.", {}, {1});
  EXPECT_DEATH(r.gauge("sg_x_total", "X.", {"a"}), "already a counter");
  EXPECT_DEATH(r.counter("sg_x_total", "X.", {"b"}), "declared again with labels");
  EXPECT_DEATH(r.histogram("sg_h", "H.", {}, {2}), "different bucket bounds");
}

TEST(MetricsDeathTest, InvalidDeclarationsAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry r;
  EXPECT_DEATH(r.counter("bad-name", "X."), "invalid metric name");
  EXPECT_DEATH(r.counter("sg_x_total", "X.", {"0abc"}), "invalid label name");
  EXPECT_DEATH(r.histogram("sg_h", "H.", {"le"}, {1}), "reserved");
  EXPECT_DEATH(r.histogram("sg_h", "H.", {}, {2, 1}), "strictly increasing");
}

}  // namespace
}  // namespace sg::metrics
