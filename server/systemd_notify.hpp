// Telling systemd how a daemon is doing (a unit with Type=notify), by the
// protocol sd_notify(3) documents, without linking libsystemd: one datagram
// of newline-separated VAR=value lines to the AF_UNIX socket named in
// $NOTIFY_SOCKET (a leading '@' names an abstract socket). Without
// $NOTIFY_SOCKET (started by hand, by the tests, by another supervisor)
// every call does nothing.
//
//   READY=1       after the listeners are bound and the config is loaded;
//                 again after a reload
//   RELOADING=1   (with MONOTONIC_USEC) when SIGHUP starts a reload
//   STOPPING=1    when SIGTERM or SIGINT starts the drain
//   WATCHDOG=1    every half of $WATCHDOG_USEC (WatchdogSec=), from the
//                 event loop, so a loop that hangs stops the pings and
//                 systemd restarts the daemon
//   STATUS=...    a line for `systemctl status`
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <string>
#include <string_view>

namespace sg::daemon {

// Sends `state`; false when $NOTIFY_SOCKET is set but the send failed
// (`error` says why). True, and nothing sent, when it is not set.
bool notify(std::string_view state, std::string* error = nullptr);

// "RELOADING=1\nMONOTONIC_USEC=N": systemd 253 and later want the clock
// reading with it (Type=notify-reload); older ones ignore it.
std::string reloading_state();

// How often to send WATCHDOG=1: half of $WATCHDOG_USEC, when it is set and
// $WATCHDOG_PID (if set) is this process; zero otherwise.
std::chrono::microseconds watchdog_interval();

// Sends WATCHDOG=1 every watchdog_interval() from `io`'s loop while it
// lives (nothing when the interval is zero). Make it on the loop that does
// the daemon's work, so a stuck loop stops the pings.
class Watchdog {
 public:
  explicit Watchdog(boost::asio::io_context& io);
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  void arm();
  boost::asio::steady_timer timer_;
  std::chrono::microseconds every_;
};

}  // namespace sg::daemon
