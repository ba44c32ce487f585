#include "rampd/listmonk_sync.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/text.hpp"
#include "rampd/http_client.hpp"
#include "rampd/pg_conn.hpp"

namespace sg::listmonk {
namespace {

using pg::Conn;
using pg::conninfo_values;
using pg::errno_text;
using pg::one_line;
using pg::quote_conninfo;

// Equal as JSON values: `found` (Postgres's text of the jsonb) against `want`.
bool same_json(const std::string& found, const nlohmann::json& want) {
  auto j = nlohmann::json::parse(found, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return false;
  return j == want;
}

std::string read_token(const std::string& path, std::string& error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    error = "cannot read the Listmonk API token file '" + path + "': " + errno_text(errno);
    return {};
  }
  std::string data;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && data.size() < 65536) data.append(buf, n);
  bool bad = std::ferror(f) != 0;
  int saved = errno;
  std::fclose(f);
  if (bad) {
    error = "cannot read the Listmonk API token file '" + path + "': " + errno_text(saved);
    return {};
  }
  std::string token(text::trim(data));
  if (token.empty()) {
    error = "the Listmonk API token file '" + path + "' is empty";
    return {};
  }
  for (char c : token) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      error = "the Listmonk API token file '" + path + "' holds more than one line";
      return {};
    }
  }
  return token;
}

}  // namespace

RateChoice choose_rate(uint64_t hourly_cap, double fraction) {
  RateChoice out;
  if (std::isnan(fraction) || fraction <= 0) {
    out.rate = 1;
    out.clamped = true;
    out.note =
        "fraction is not above 0: Listmonk's rate set to 1 (a rate of 0 would turn its "
        "sliding window off)";
    return out;
  }
  if (fraction > 1) fraction = 1;
  long double x = static_cast<long double>(hourly_cap) * static_cast<long double>(fraction);
  long double f = std::floor(x);
  if (x - f > 1 - 1e-9L) f += 1;  // 28.9999999999 from 100 x 0.29 is 29
  if (f >= static_cast<long double>(kMaxRate)) {
    out.rate = kMaxRate;
    out.clamped = f > static_cast<long double>(kMaxRate);
    if (out.clamped)
      out.note = "hourly cap " + std::to_string(hourly_cap) + " x fraction is above " +
                 std::to_string(kMaxRate) + ": Listmonk's rate set to " + std::to_string(kMaxRate);
    return out;
  }
  out.rate = static_cast<uint64_t>(f);
  if (out.rate == 0) {
    out.rate = 1;
    out.clamped = true;
    out.note = hourly_cap == 0
                   ? "hourly cap is 0 (stream closed): Listmonk's rate set to 1, the least that "
                     "keeps its sliding window on (0 turns it off); the MTA cap holds the rest"
                   : "hourly cap " + std::to_string(hourly_cap) +
                         " x fraction rounds to 0: Listmonk's rate set to 1 (0 turns its "
                         "sliding window off)";
  }
  return out;
}

std::string redact_dsn(const std::string& dsn) {
  std::string err;
  auto v = conninfo_values(dsn, &err);
  if (v.empty()) return err.empty() ? "(empty dsn)" : "(dsn libpq cannot parse: " + err + ")";
  std::string out;
  auto add = [&](const std::string& k, const std::string& val) {
    if (!out.empty()) out += ' ';
    out += k + "=" + val;
  };
  static const std::array<const char*, 5> first = {"host", "hostaddr", "port", "dbname", "user"};
  for (const char* k : first) {
    auto it = v.find(k);
    if (it != v.end()) add(k, quote_conninfo(it->second));
  }
  for (const auto& [k, val] : v) {
    bool listed = false;
    for (const char* f : first) listed = listed || k == f;
    if (listed) continue;
    if (k == "password" || k == "sslpassword")
      add(k, "***");
    else
      add(k, quote_conninfo(val));
  }
  return out;
}

namespace {

using Settings = std::map<std::string, std::string>;

// Opens the transaction and reads the three settings FOR UPDATE. Returns
// what went wrong, "" when all three were read into `found`.
std::string lock_settings(Conn& conn, uint32_t timeout_ms, Settings& found) {
  if (!conn.exec("BEGIN", {}, "BEGIN")) return conn.error();
  // The server gives up a statement (one waiting on a row lock, say) after the
  // same time; SET LOCAL, so it ends with the transaction.
  if (!conn.exec("SELECT set_config('statement_timeout', $1, true)", {std::to_string(timeout_ms)},
                 "setting statement_timeout"))
    return conn.error();
  auto rows = conn.exec(
      "SELECT key, value::text FROM settings WHERE key IN ($1, $2, $3) ORDER BY key FOR UPDATE",
      {kEnabledKey, kDurationKey, kRateKey}, "reading Listmonk's settings");
  if (!rows) {
    std::string e = conn.error();
    if (conn.sqlstate() == "42P01") e += " (is this Listmonk's database?)";
    return e;
  }
  for (int i = 0; i < PQntuples(rows.get()); ++i)
    found[PQgetvalue(rows.get(), i, 0)] = PQgetvalue(rows.get(), i, 1);
  std::string missing;
  for (const char* k : {kEnabledKey, kDurationKey, kRateKey}) {
    if (!found.count(k)) missing += std::string(missing.empty() ? "" : ", ") + k;
  }
  if (missing.empty()) return "";
  return "not a Listmonk database: its settings table has no " + missing + " (nothing was written)";
}

// Writes each setting that differs from what is wanted; `changed` says
// whether any did. False on a failed UPDATE.
bool write_settings(Conn& conn, Settings& found, const Desired& d, bool& changed) {
  const std::array<std::pair<const char*, nlohmann::json>, 3> want = {{
      {kEnabledKey, nlohmann::json(true)},
      {kDurationKey, nlohmann::json(d.window)},
      {kRateKey, nlohmann::json(d.rate)},
  }};
  for (const auto& [key, value] : want) {
    if (same_json(found[key], value)) continue;
    auto up = conn.exec("UPDATE settings SET value = $2::jsonb, updated_at = NOW() WHERE key = $1",
                        {key, value.dump()}, "updating Listmonk's settings");
    if (!up) return false;
    changed = true;
  }
  return true;
}

}  // namespace

SyncResult sync_settings(const ListmonkConfig& cfg, const Desired& d) {
  SyncResult r;
  const std::string where = redact_dsn(cfg.dsn);
  if (d.rate == 0 || d.rate > kMaxRate) {
    r.error = where + ": refusing to write Listmonk's rate " + std::to_string(d.rate) +
              (d.rate == 0 ? " (0 turns its sliding window off)" : " (too large)");
    return r;
  }
  if (d.window.empty()) {
    r.error = where + ": no sliding-window duration to write";
    return r;
  }
  const auto values = conninfo_values(cfg.dsn, nullptr);
  const auto pw = values.find("password");
  Conn conn(cfg.timeout_ms, pw == values.end() ? std::string() : pw->second);
  if (!conn.connect(cfg.dsn)) {
    r.error = where + ": cannot connect to Listmonk's database: " + conn.error();
    return r;
  }
  // Any failure before COMMIT rolls back (closing the connection ends the
  // transaction): nothing changed.
  auto failed = [&](const std::string& what) {
    r.error = where + ": " + what;
    r.changed = false;
    return r;
  };
  Settings found;
  if (const std::string e = lock_settings(conn, cfg.timeout_ms, found); !e.empty())
    return failed(e);
  r.old_enabled = found[kEnabledKey];
  r.old_window = found[kDurationKey];
  r.old_rate = found[kRateKey];
  if (!write_settings(conn, found, d, r.changed)) return failed(conn.error());
  // Nothing differs: end the transaction without a write.
  if (!conn.exec(r.changed ? "COMMIT" : "ROLLBACK", {}, r.changed ? "COMMIT" : "ROLLBACK")) {
    // A COMMIT whose answer never came may have been applied.
    r.uncertain = r.changed;
    return failed(conn.error());
  }
  r.ok = true;
  return r;
}

ReloadResult reload(const ListmonkConfig& cfg) {
  ReloadResult r;
  if (cfg.reload_url.empty()) {
    r.ok = true;
    return r;
  }
  http::Headers headers = {{"User-Agent", "streamguard-rampd"}};
  if (!cfg.api_user.empty() || !cfg.api_token_file.empty()) {
    if (cfg.api_user.empty() || cfg.api_token_file.empty()) {
      r.error = "Listmonk reload: api_user and api_token_file go together";
      return r;
    }
    std::string err;
    std::string token = read_token(cfg.api_token_file, err);
    if (token.empty()) {
      r.error = "Listmonk reload: " + err;
      return r;
    }
    headers.emplace_back("Authorization", "token " + cfg.api_user + ":" + token);
  }
  auto resp = http::post(cfg.reload_url, headers, "", cfg.timeout_ms);
  r.http_status = resp.status;
  if (!resp.ok) {
    r.error = "Listmonk reload (POST " + cfg.reload_url + "): " + resp.error;
    return r;
  }
  if (resp.status < 200 || resp.status > 299) {
    std::string body = one_line(resp.body.substr(0, 200));
    r.error = "Listmonk reload (POST " + cfg.reload_url + ") answered HTTP " +
              std::to_string(resp.status) + (body.empty() ? "" : ": " + body);
    if (resp.status == 401 || resp.status == 403)
      r.error += " (check api_user, api_token_file and that the user may settings:manage)";
    return r;
  }
  r.ok = true;
  return r;
}

}  // namespace sg::listmonk
