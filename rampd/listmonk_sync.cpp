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

namespace sg::listmonk {
namespace {

using Clock = std::chrono::steady_clock;

// strerror without its shared buffer: syncs may run on several threads.
std::string errno_text(int e) {
  char buf[256];
  return ::strerror_r(e, buf, sizeof buf);  // the GNU variant: returns the text
}

// Messages on one log line: libpq's own span lines ("...failed: Connection
// refused\n\tIs the server running...?").
std::string one_line(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : text::trim(s)) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string quote_conninfo(const std::string& v) {
  bool plain = !v.empty();
  for (char c : v)
    if (c == ' ' || c == '\'' || c == '\\' || c == '\t') plain = false;
  if (plain) return v;
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// libpq's option values from a dsn (key=value string or URI); empty when it
// does not parse.
std::map<std::string, std::string> conninfo_values(const std::string& dsn, std::string* error) {
  std::map<std::string, std::string> out;
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (!opts) {
    if (error) *error = err ? one_line(err) : "out of memory";
    if (err) PQfreemem(err);
    return out;
  }
  for (PQconninfoOption* o = opts; o->keyword; ++o)
    if (o->val && *o->val) out[o->keyword] = o->val;
  PQconninfoFree(opts);
  return out;
}

// Replaces a password that slipped into a message (libpq's own messages do
// not quote it; this is a second guard).
std::string scrub(std::string text, const std::string& password) {
  if (password.size() < 4) return text;
  for (size_t at; (at = text.find(password)) != std::string::npos;)
    text.replace(at, password.size(), "***");
  return text;
}

// One libpq connection whose every step waits at most until `deadline`.
class Conn {
 public:
  Conn(uint32_t timeout_ms, std::string password)
      : timeout_ms_(timeout_ms),
        deadline_(Clock::now() + std::chrono::milliseconds(timeout_ms)),
        password_(std::move(password)) {}
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() {
    if (c_) PQfinish(c_);
  }

  const std::string& error() const { return error_; }

  // libpq's connect_timeout is not used: PQconnectPoll ignores it (and it
  // counts whole seconds, at least 2); the deadline here is the caller's.
  bool connect(const std::string& dsn) {
    const char* keys[] = {"dbname", "fallback_application_name", nullptr};
    const char* vals[] = {dsn.c_str(), "streamguard-rampd", nullptr};
    c_ = PQconnectStartParams(keys, vals, 1);
    if (!c_) return fail("out of memory");
    if (PQstatus(c_) == CONNECTION_BAD) return fail(libpq_error());
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    for (;;) {
      if (st == PGRES_POLLING_OK) break;
      if (st == PGRES_POLLING_FAILED) return fail(libpq_error());
      if (!wait(st == PGRES_POLLING_READING ? POLLIN : POLLOUT)) return fail(timeout("connecting"));
      st = PQconnectPoll(c_);
    }
    if (PQsetnonblocking(c_, 1) != 0) return fail(libpq_error());
    return true;
  }

  using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

  // Runs one parameterised statement; null (and error()) unless it succeeded.
  Result exec(const char* sql, const std::vector<std::string>& params, const char* what) {
    Result none(nullptr, &PQclear);
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    if (!PQsendQueryParams(c_, sql, static_cast<int>(values.size()), nullptr, values.data(),
                           nullptr, nullptr, 0)) {
      fail(std::string(what) + ": " + libpq_error());
      return none;
    }
    for (;;) {  // flush the query out
      int f = PQflush(c_);
      if (f == 0) break;
      if (f < 0) {
        fail(std::string(what) + ": " + libpq_error());
        return none;
      }
      if (!wait(POLLIN | POLLOUT)) {
        fail(timeout(std::string("in ") + what));
        return none;
      }
      if (!PQconsumeInput(c_)) {
        fail(std::string(what) + ": " + libpq_error());
        return none;
      }
    }
    Result last(nullptr, &PQclear);
    for (;;) {  // collect every result until the null that ends the query
      while (PQisBusy(c_)) {
        if (!wait(POLLIN)) {
          fail(timeout(std::string("in ") + what));
          return none;
        }
        if (!PQconsumeInput(c_)) {
          fail(std::string(what) + ": " + libpq_error());
          return none;
        }
      }
      PGresult* r = PQgetResult(c_);
      if (!r) break;
      auto s = PQresultStatus(r);
      if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        sqlstate_ = state ? state : "";
        const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        std::string msg = one_line(primary ? primary : PQresultErrorMessage(r));
        PQclear(r);
        fail(std::string(what) + ": " + msg);
        // Drain what remains, so the connection could be reused.
        while (PGresult* rest = PQgetResult(c_)) PQclear(rest);
        return none;
      }
      last.reset(r);
    }
    if (!last) fail(std::string(what) + ": no result");
    return last;
  }

  const std::string& sqlstate() const { return sqlstate_; }

 private:
  bool fail(std::string msg) {
    error_ = scrub(std::move(msg), password_);
    return false;
  }
  std::string libpq_error() const {
    return c_ ? one_line(PQerrorMessage(c_)) : std::string("no connection");
  }
  std::string timeout(const std::string& what) const {
    return "timed out after " + std::to_string(timeout_ms_) + " ms " + what;
  }
  // Waits until the connection's socket is ready; false when the deadline passed.
  bool wait(short events) {
    int fd = PQsocket(c_);
    if (fd < 0) return true;  // libpq reports the problem on its next call
    for (;;) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd, events, 0};
      int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 60000)));
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return true;
    }
  }

  PGconn* c_ = nullptr;
  uint32_t timeout_ms_;
  Clock::time_point deadline_;
  std::string password_;
  std::string error_;
  std::string sqlstate_;
};

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
