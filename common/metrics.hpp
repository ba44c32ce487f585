// Metrics in Prometheus text exposition format (version 0.0.4). Families are
// declared once, each with fixed label names; a labelled series is created on
// first use and its reference stays valid for the registry's life, so hot paths
// look a series up once and keep the reference. Values are atomics and family
// maps are locked, so the multi-threaded milter can share this code.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sg::metrics {

class Counter {
 public:
  void inc(double v = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A counter that mirrors a running total kept elsewhere (a daemon's own
// count, rendered at scrape time).
inline void mirror(Counter& c, double total) {
  if (total > c.value()) c.inc(total - c.value());
}

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void observe(double v);
  // Snapshot: cumulative counts per bound (then +Inf), sum, count.
  std::vector<uint64_t> cumulative() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_->size() + 1
  std::atomic<double> sum_{0.0};
  std::atomic<uint64_t> count_{0};
};

template <class T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {});
  // The series for these label values (one per label name, in order). A
  // series that exists is found without allocating, so hot paths may call
  // this per request.
  T& labels(std::span<const std::string_view> values);
  T& labels(std::initializer_list<std::string_view> values) {
    return labels(std::span<const std::string_view>(values.begin(), values.size()));
  }
  T& labels(const std::vector<std::string>& values);
  const std::string& name() const { return name_; }
  void render(std::string& out) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  // Orders label-value lists of any string type alike, so a lookup by
  // string_views needs no vector<string> key.
  struct LabelLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return std::lexicographical_compare(
          a.begin(), a.end(), b.begin(), b.end(),
          [](std::string_view x, std::string_view y) { return x < y; });
    }
  };
  std::map<std::vector<std::string>, std::unique_ptr<T>, LabelLess> series_;

  friend class Registry;  // compares label names and bounds on re-declaration
};

class Registry {
 public:
  Family<Counter>& counter(std::string name, std::string help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string name, std::string help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(std::string name, std::string help,
                               std::vector<std::string> label_names, std::vector<double> bounds);
  std::string render() const;  // the whole exposition, families in declaration order

 private:
  mutable std::mutex mu_;
  std::deque<std::unique_ptr<Family<Counter>>> counters_;
  std::deque<std::unique_ptr<Family<Gauge>>> gauges_;
  std::deque<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::pair<int, std::size_t>> order_;  // (kind, index) in declaration order

  const std::string& name_of(int kind, std::size_t index) const;
  template <class T>
  Family<T>& declare(std::deque<std::unique_ptr<Family<T>>>& families, int kind, std::string name,
                     std::string help, std::vector<std::string> label_names,
                     std::vector<double> bounds);
};

}  // namespace sg::metrics
