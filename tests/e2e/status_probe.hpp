// Reading a daemon's status socket from a test: the raw HTTP GET, one series
// of /metrics, and waiting for a counter to move. Tests wait on what the
// daemon reports (rampd's drain rounds) rather than sleep for a guessed time.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace sg::e2e {

// GET path over a unix socket (a status socket); the whole response, or ""
// when nothing listens there.
std::string http_get_unix(const std::string& socket_path, const std::string& path);

// The value of one series in a Prometheus text page, named with its labels
// exactly as rendered (`streamguard_rampd_held{stream="healthcare"}`);
// nullopt when the page has no such series.
std::optional<double> metric_value(const std::string& page, const std::string& series);

// The series' value from the daemon behind `socket` now (nullopt: no
// answer, or no such series).
std::optional<double> read_metric(const std::string& socket, const std::string& series);

// Waits until rampd (status socket `socket`) has finished `rounds` more drain
// rounds than when called: "nothing more happens" then means rampd looked
// and did nothing. False on timeout.
bool wait_drain_rounds(const std::string& socket, int rounds, std::chrono::milliseconds limit);

}  // namespace sg::e2e
