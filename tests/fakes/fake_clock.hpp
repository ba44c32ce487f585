// A clock tests move by hand. Safe to read and move from several threads: the
// daemon under test reads it on its own threads while the test advances it.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/clock.hpp"

namespace sg::testing {

class FakeClock final : public sg::Clock {
 public:
  explicit FakeClock(int64_t start_ms = 0) : now_(start_ms) {}

  int64_t now_ms() const override { return now_.load(std::memory_order_acquire); }

  void set(int64_t ms) { now_.store(ms, std::memory_order_release); }
  // Returns the new time.
  int64_t advance(int64_t ms) { return now_.fetch_add(ms, std::memory_order_acq_rel) + ms; }

  std::atomic<int64_t> now_;
};

}  // namespace sg::testing
