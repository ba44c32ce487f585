// The clock seam: daemons read time only through this, so tests inject a
// clock they move by hand (tests/fakes/fake_clock.hpp) and never sleep.
#pragma once

#include <chrono>
#include <cstdint>

namespace sg {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;  // wall clock, milliseconds since the epoch
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

}  // namespace sg
