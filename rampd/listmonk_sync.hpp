// streamguard-rampd's Listmonk synchronisation: keeps a Listmonk instance's
// sliding-window settings a fraction under its stream's MTA hourly cap, so
// Listmonk paces itself and the MTA cap stays the backstop (brief, rule 1).
//
// What Listmonk does with these settings (knadh/listmonk, schema.sql and
// internal/manager): they live in its Postgres table
//   settings(key TEXT NOT NULL UNIQUE, value JSONB NOT NULL DEFAULT '{}',
//            updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW())
// as app.message_sliding_window (JSON boolean, default false),
// app.message_sliding_window_duration (JSON string, a Go duration, default
// "1h") and app.message_sliding_window_rate (JSON integer, default 10000).
// Listmonk reads them once, at start; POST /api/admin/reload (permission
// settings:manage) re-executes the process, which also restarts its window.
// Listmonk applies the window only when it is enabled, the rate is above 0
// AND the duration is above one second: a rate of 0 does not stop sending, it
// turns the limit off.
#pragma once

#include <cstdint>
#include <string>

#include "common/config.hpp"

namespace sg::listmonk {

inline constexpr const char* kEnabledKey = "app.message_sliding_window";
inline constexpr const char* kDurationKey = "app.message_sliding_window_duration";
inline constexpr const char* kRateKey = "app.message_sliding_window_rate";

// The largest rate written: beyond it the number means "no limit" anyway,
// and it stays exact through Listmonk's JSON decoding and a 32-bit Go int.
inline constexpr uint64_t kMaxRate = 2147483647;

struct RateChoice {
  uint64_t rate = 1;
  // The rate is not floor(cap x fraction): raised to 1 (a closed stream, or a
  // cap so small the fraction rounds to 0) or lowered to kMaxRate. `note`
  // says which and why, for the caller's log line.
  bool clamped = false;
  std::string note;
};

// floor(hourly_cap x fraction), tolerant of binary rounding (100 x 0.29 is 29,
// not 28), never 0 and never above kMaxRate. A cap of 0 (the stream is closed)
// or a cap whose fraction rounds to 0 gives 1, never 0: Listmonk reads a rate
// of 0 as "no sliding window" and would send without any limit. With 1,
// Listmonk sends at most one message per window, and the MTA cap (policyd)
// defers or holds it. A fraction outside (0, 1] is taken as 1 (never above
// the cap); a fraction that is not a number gives 1.
RateChoice choose_rate(uint64_t hourly_cap, double fraction);
inline uint64_t listmonk_rate(uint64_t hourly_cap, double fraction) {
  return choose_rate(hourly_cap, fraction).rate;
}

// The values a Listmonk instance should hold: sliding window on, `window`
// ("1h") and `rate` messages per window.
struct Desired {
  uint64_t rate = 1;
  std::string window = "1h";
};

struct SyncResult {
  bool ok = false;
  bool changed = false;  // at least one value was written (Listmonk needs a reload)
  std::string error;     // when !ok; names the database (dsn without its password)
  // !ok after the COMMIT was sent but its answer did not come (timeout, lost
  // connection): the values may be written. A later sync then finds nothing
  // to change, so treat this like `changed` for the reload.
  bool uncertain = false;
  // The values found, as Postgres prints the JSON (true, "1h", 10000), for the log.
  std::string old_enabled, old_window, old_rate;
};

// Brings the three settings to `d` in Listmonk's database cfg.dsn, in one
// transaction: SELECT ... FOR UPDATE, compare as JSON values (10000 and
// 10000.0 are the same rate), UPDATE (with updated_at = NOW()) only the keys
// that differ, COMMIT. A second call with the same `d` finds nothing to change
// and writes nothing (changed = false). The keys must exist: a database
// without them is not Listmonk's, and it is an error (nothing is inserted).
// Blocking; connecting and every statement share one deadline of
// cfg.timeout_ms (statement_timeout is set to it too, so the server gives up
// a statement that waits on a lock).
SyncResult sync_settings(const ListmonkConfig& cfg, const Desired& d);

struct ReloadResult {
  bool ok = false;
  int http_status = 0;  // 0: no HTTP answer (or no reload_url)
  std::string error;
};

// POST cfg.reload_url (Listmonk's /api/admin/reload) with
// `Authorization: token API_USER:TOKEN` when api_user and api_token_file are
// set (the token is the file's content, whitespace trimmed), within
// cfg.timeout_ms. ok: a 2xx answer. An empty reload_url sends nothing and is
// ok (http_status 0). Call it only after a sync that changed something:
// Listmonk's reload restarts the process and with it the sliding window.
ReloadResult reload(const ListmonkConfig& cfg);

// The dsn for messages: its settings as key=value without the password
// ("host=127.0.0.1 port=5432 dbname=listmonk user=listmonk password=***").
std::string redact_dsn(const std::string& dsn);

}  // namespace sg::listmonk
