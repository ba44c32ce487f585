#include "server/daemon_record.hpp"

#include <unistd.h>

#include <ctime>

namespace sg::daemon {

DaemonRecord::DaemonRecord() : started_s_(static_cast<int64_t>(std::time(nullptr))) {}

void DaemonRecord::reload(bool ok) {
  std::lock_guard lock(mu_);
  ++(ok ? ok_ : failed_);
  last_s_ = static_cast<int64_t>(std::time(nullptr));
  last_ok_ = ok;
}

std::string DaemonRecord::json_fields() const {
  std::lock_guard lock(mu_);
  const bool never = last_s_ == 0;
  return "\"pid\":" + std::to_string(::getpid()) + ",\"started\":\"" + iso_utc(started_s_) +
         "\",\"reloads\":{\"ok\":" + std::to_string(ok_) +
         ",\"failed\":" + std::to_string(failed_) +
         ",\"last\":" + (never ? std::string("null") : "\"" + iso_utc(last_s_) + "\"") +
         ",\"last_ok\":" +
         (never      ? "null"
          : last_ok_ ? "true"
                     : "false") +
         "}";
}

std::string iso_utc(int64_t epoch_s) {
  const auto t = static_cast<std::time_t>(epoch_s);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace sg::daemon
