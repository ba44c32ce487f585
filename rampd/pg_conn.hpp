// One libpq connection for rampd's writes to Listmonk's database (its
// settings, listmonk_sync.hpp; its blocklist, listmonk_blocklist.hpp), and
// the helpers that keep a dsn's password out of every message. Blocking, but
// every step waits at most until a deadline (poll on the socket, libpq in
// non-blocking mode): rampd runs it on its thread pool (offload.hpp).
#pragma once

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sg::pg {

using Clock = std::chrono::steady_clock;

// strerror without its shared buffer: jobs may run on several threads.
std::string errno_text(int e);
// Messages on one log line: libpq's own span lines ("...failed: Connection
// refused\n\tIs the server running...?").
std::string one_line(const std::string& s);
// A conninfo value, quoted when it must be.
std::string quote_conninfo(const std::string& v);
// libpq's option values from a dsn (key=value string or URI); empty when it
// does not parse (`error` says why).
std::map<std::string, std::string> conninfo_values(const std::string& dsn, std::string* error);
// Replaces a password that slipped into a message (libpq's own messages do
// not quote it; this is a second guard).
std::string scrub(std::string text, const std::string& password);

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
  // A fresh `timeout_ms` from now, for the next statement of a long job
  // (the blocklist's batches); the connection and the first statement share
  // the one set at construction.
  void restart_deadline() { deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms_); }

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

}  // namespace sg::pg
