#include "common/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <type_traits>

namespace sg::metrics {
namespace {

enum Kind : int { kCounter = 0, kGauge = 1, kHistogram = 2 };

// A broken invariant in the caller's code: there is no sane way to go on.
[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "sg::metrics: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

template <class T>
constexpr const char* type_name() {
  if constexpr (std::is_same_v<T, Counter>) {
    return "counter";
  } else if constexpr (std::is_same_v<T, Gauge>) {
    return "gauge";
  } else {
    static_assert(std::is_same_v<T, Histogram>);
    return "histogram";
  }
}

bool valid_metric_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view s) {
  if (s.empty() || s.starts_with("__")) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  std::to_chars_result r;
  // 2^63 is exactly representable; every integral double below it fits an int64_t.
  constexpr double kInt64Limit = 9223372036854775808.0;
  if (v == std::trunc(v) && std::fabs(v) < kInt64Limit) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  }
  out.append(buf, r.ptr);
}

void append_number(std::string& out, uint64_t v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_escaped_help(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_escaped_label_value(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// `name{a="x",b="y"}` (or just `name`), with an optional extra label such as le.
void append_series_name(std::string& out, std::string_view name, std::string_view suffix,
                        const std::vector<std::string>& label_names,
                        const std::vector<std::string>& values, std::string_view extra_name = {},
                        std::string_view extra_value = {}) {
  out += name;
  out += suffix;
  if (label_names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += label_names[i];
    out += "=\"";
    append_escaped_label_value(out, values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

std::string join(const std::vector<std::string>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += v[i];
  }
  return s + "]";
}

}  // namespace

void Counter::inc(double v) {
  if (!(v >= 0.0)) die("Counter::inc with a negative or NaN value: counters only go up");
  value_.fetch_add(v, std::memory_order_relaxed);
}

void Gauge::add(double v) {
  value_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds->size() + 1)) {}

void Histogram::observe(double v) {
  // Bucket i counts observations with bounds[i-1] < v <= bounds[i]; the last is +Inf.
  // NaN compares false with every bound and so lands in +Inf, like other clients do.
  auto it = std::lower_bound(bounds_->begin(), bounds_->end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_->begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative() const {
  std::vector<uint64_t> out(bounds_->size() + 1);
  uint64_t running = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

template <class T>
Family<T>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {
  if (!valid_metric_name(name_)) die("invalid metric name '" + name_ + "'");
  for (std::size_t i = 0; i < label_names_.size(); ++i) {
    const std::string& l = label_names_[i];
    if (!valid_label_name(l)) die("metric " + name_ + ": invalid label name '" + l + "'");
    if (std::is_same_v<T, Histogram> && l == "le")
      die("metric " + name_ + ": 'le' is reserved for histogram buckets");
    for (std::size_t j = 0; j < i; ++j)
      if (label_names_[j] == l) die("metric " + name_ + ": duplicate label name '" + l + "'");
  }
  if constexpr (std::is_same_v<T, Histogram>) {
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      if (!std::isfinite(bounds_[i]))
        die("histogram " + name_ + ": bucket bounds must be finite (+Inf is implicit)");
      if (i > 0 && !(bounds_[i - 1] < bounds_[i]))
        die("histogram " + name_ + ": bucket bounds must be strictly increasing");
    }
  } else {
    if (!bounds_.empty()) die("metric " + name_ + ": only histograms take bucket bounds");
  }
  // A family without labels has exactly one series: create it now so it renders as 0.
  if (label_names_.empty()) labels({});
}

template <class T>
T& Family<T>::labels(std::span<const std::string_view> values) {
  if (values.size() != label_names_.size()) {
    die("metric " + name_ + " has labels " + join(label_names_) + " but was given " +
        std::to_string(values.size()) + " value(s) " +
        join(std::vector<std::string>(values.begin(), values.end())));
  }
  std::lock_guard lock(mu_);
  auto it = series_.find(values);
  if (it == series_.end()) {
    std::unique_ptr<T> series;
    if constexpr (std::is_same_v<T, Histogram>) {
      series = std::make_unique<Histogram>(&bounds_);
    } else {
      series = std::make_unique<T>();
    }
    it = series_.emplace(std::vector<std::string>(values.begin(), values.end()), std::move(series))
             .first;
  }
  return *it->second;
}

template <class T>
T& Family<T>::labels(const std::vector<std::string>& values) {
  std::vector<std::string_view> views(values.begin(), values.end());
  return labels(std::span<const std::string_view>(views));
}

template <class T>
void Family<T>::render(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  append_escaped_help(out, help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type_name<T>();
  out += '\n';

  std::lock_guard lock(mu_);
  for (const auto& [values, series] : series_) {
    if constexpr (std::is_same_v<T, Histogram>) {
      std::vector<uint64_t> cum = series->cumulative();
      std::string le;
      for (std::size_t i = 0; i < cum.size(); ++i) {
        le.clear();
        if (i < bounds_.size()) {
          append_number(le, bounds_[i]);
        } else {
          le = "+Inf";
        }
        append_series_name(out, name_, "_bucket", label_names_, values, "le", le);
        out += ' ';
        append_number(out, cum[i]);
        out += '\n';
      }
      append_series_name(out, name_, "_sum", label_names_, values);
      out += ' ';
      append_number(out, series->sum());
      out += '\n';
      // The +Inf bucket rather than count(): the two can differ by an observation in
      // flight, and scrapers expect _count to equal the +Inf bucket.
      append_series_name(out, name_, "_count", label_names_, values);
      out += ' ';
      append_number(out, cum.back());
      out += '\n';
    } else {
      append_series_name(out, name_, "", label_names_, values);
      out += ' ';
      append_number(out, series->value());
      out += '\n';
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

namespace {

const char* kind_name(int kind) {
  switch (kind) {
    case kCounter:
      return "counter";
    case kGauge:
      return "gauge";
    default:
      return "histogram";
  }
}

}  // namespace

const std::string& Registry::name_of(int kind, std::size_t index) const {
  switch (kind) {
    case kCounter:
      return counters_[index]->name();
    case kGauge:
      return gauges_[index]->name();
    default:
      return histograms_[index]->name();
  }
}

// Declaring an existing name again is fine when it means the same family (several
// components may share one); anything else gives one name two meanings.
template <class T>
Family<T>& Registry::declare(std::deque<std::unique_ptr<Family<T>>>& families, int kind,
                             std::string name, std::string help,
                             std::vector<std::string> label_names, std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  for (const auto& [k, index] : order_) {
    if (name_of(k, index) != name) continue;
    if (k != kind)
      die("metric " + name + " declared as a " + kind_name(kind) + " but it is already a " +
          kind_name(k));
    Family<T>& f = *families[index];
    if (f.label_names_ != label_names)
      die("metric " + name + " declared again with labels " + join(label_names) + " instead of " +
          join(f.label_names_));
    if (f.bounds_ != bounds)
      die("histogram " + name + " declared again with different bucket bounds");
    return f;
  }
  families.push_back(std::make_unique<Family<T>>(std::move(name), std::move(help),
                                                 std::move(label_names), std::move(bounds)));
  order_.emplace_back(kind, families.size() - 1);
  return *families.back();
}

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> label_names) {
  return declare(counters_, kCounter, std::move(name), std::move(help), std::move(label_names), {});
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> label_names) {
  return declare(gauges_, kGauge, std::move(name), std::move(help), std::move(label_names), {});
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  return declare(histograms_, kHistogram, std::move(name), std::move(help), std::move(label_names),
                 std::move(bounds));
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [kind, index] : order_) {
    switch (kind) {
      case kCounter:
        counters_[index]->render(out);
        break;
      case kGauge:
        gauges_[index]->render(out);
        break;
      default:
        histograms_[index]->render(out);
        break;
    }
  }
  return out;
}

}  // namespace sg::metrics
