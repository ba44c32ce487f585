// A real, throwaway PostgreSQL 15 for one test suite: initdb into a fresh
// temporary folder, then `postgres` listening only on 127.0.0.1 on a free
// port (password, scram-sha-256) and on a unix socket in that folder (trust,
// for the test's own set-up). PostgreSQL refuses to run as root: when the
// test runs as root, initdb and postgres run as the `postgres` user (the
// child drops to it before exec). Stopped (fast shutdown, then SIGKILL) and
// the folder removed at the end; a test process that dies takes the server
// with it. Also a small synchronous client for the test's own statements.
#pragma once

#include "tests/loopback_port.hpp"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sg::testing {

// A TCP port on 127.0.0.1 that nothing listens on (bound, read, released).
class PostgresServer {
 public:
  static constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";
  static constexpr const char* kSuperuser = "sg";
  static constexpr const char* kSuperuserPassword = "sg-superuser-pw";

  PostgresServer() {
    char tmpl[] = "/tmp/sg-pg-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    try {
      set_up_user();
      init_db();
      start();
    } catch (...) {
      stop();
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      throw;
    }
  }
  ~PostgresServer() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  const std::string& dir() const { return dir_; }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  uid_t server_uid() const { return drop_ ? uid_ : ::geteuid(); }
  std::string log_path() const { return dir_ + "/postgres.log"; }

  // The superuser over the unix socket in dir() (trust): the test's own set-up.
  std::string admin_dsn(const std::string& db = "postgres") const {
    return "host=" + dir_ + " port=" + std::to_string(port_) + " dbname=" + db +
           " user=" + kSuperuser;
  }
  // A role over TCP on 127.0.0.1 (password required): what the code under test uses.
  std::string tcp_dsn(const std::string& db, const std::string& user,
                      const std::string& password) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + db + " user=" + user +
           " password=" + password;
  }

  // Runs SQL (one or more statements) as the superuser; throws with the
  // server's message on failure.
  void exec(const std::string& db, const std::string& sql) const {
    PGconn* c = connect(db);
    PGresult* r = PQexec(c, sql.c_str());
    auto st = PQresultStatus(r);
    std::string err = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      throw std::runtime_error("SQL failed: " + sql + ": " + err);
  }

  // The first column of the first row as text; "(null)" for NULL, "(none)"
  // when there is no row.
  std::string query(const std::string& db, const std::string& sql) const {
    PGconn* c = connect(db);
    PGresult* r = PQexec(c, sql.c_str());
    auto st = PQresultStatus(r);
    std::string out;
    if (st != PGRES_TUPLES_OK) {
      std::string err = PQresultErrorMessage(r);
      PQclear(r);
      PQfinish(c);
      throw std::runtime_error("SQL failed: " + sql + ": " + err);
    }
    if (PQntuples(r) == 0)
      out = "(none)";
    else if (PQgetisnull(r, 0, 0))
      out = "(null)";
    else
      out = PQgetvalue(r, 0, 0);
    PQclear(r);
    PQfinish(c);
    return out;
  }

  // Fast shutdown (SIGINT), then SIGKILL if it lingers.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);
    for (int i = 0; i < 1500; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string log() const {
    std::ifstream in(log_path());
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  // As root, the server runs as `postgres`, and owns the folder.
  void set_up_user() {
    drop_ = ::geteuid() == 0;
    if (drop_) {
      passwd* pw = ::getpwnam("postgres");
      if (!pw) throw std::runtime_error("running as root, but there is no 'postgres' user");
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
    }
    std::string pwfile = dir_ + "/pwfile";
    {
      std::ofstream out(pwfile);
      out << kSuperuserPassword << "\n";
    }
    ::chmod(pwfile.c_str(), 0600);
    if (drop_) {
      if (::chown(dir_.c_str(), uid_, gid_) != 0 || ::chown(pwfile.c_str(), uid_, gid_) != 0)
        throw std::runtime_error("cannot chown " + dir_ + " to postgres");
    }
  }

  void init_db() {
    std::string bin = std::string(kBinDir) + "/initdb";
    pid_t p = spawn({bin, "-D", dir_ + "/data", "-U", kSuperuser, "--pwfile=" + dir_ + "/pwfile",
                     "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
                     "--no-sync"},
                    dir_ + "/initdb.log", SIGKILL);
    int status = 0;
    ::waitpid(p, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::ifstream in(dir_ + "/initdb.log");
      std::stringstream s;
      s << in.rdbuf();
      throw std::runtime_error("initdb failed (is postgresql-15 installed?): " + s.str());
    }
  }

  void start() {
    // The free port may be taken between the probe and postgres's bind: retry.
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = free_loopback_port();
      std::string bin = std::string(kBinDir) + "/postgres";
      // SIGQUIT when the test process dies: immediate shutdown, which takes
      // the server's own children down too.
      pid_ = spawn({bin,
                    "-D",
                    dir_ + "/data",
                    "-p",
                    std::to_string(port_),
                    "-k",
                    dir_,
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "unix_socket_permissions=0700",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=40",
                    "-c",
                    "shared_buffers=16MB",
                    "-c",
                    "logging_collector=off",
                    "-c",
                    "log_min_messages=warning"},
                   log_path(), SIGQUIT);
      if (wait_ready()) return;
      stop();
    }
    throw std::runtime_error("postgres did not start; its log: " + log());
  }

  // Ready when it accepts connections over TCP; false if it exited.
  bool wait_ready() {
    std::string probe = "host=127.0.0.1 port=" + std::to_string(port_) +
                        " dbname=postgres user=" + kSuperuser + " connect_timeout=2";
    for (int i = 0; i < 3000; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      if (PQping(probe.c_str()) == PQPING_OK) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  PGconn* connect(const std::string& db) const {
    PGconn* c = PQconnectdb(admin_dsn(db).c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      std::string err = PQerrorMessage(c);
      PQfinish(c);
      throw std::runtime_error("cannot connect to the test postgres: " + err);
    }
    return c;
  }

  // Forks and execs `args` (as `postgres` when root) with its output in `log`.
  pid_t spawn(const std::vector<std::string>& args, const std::string& log, int death_signal) {
    // Everything the child needs is built before fork: the child only makes
    // async-signal-safe calls.
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    static char env_lc[] = "LC_ALL=C";
    static char env_lang[] = "LANG=C";
    static char env_tz[] = "TZ=UTC";
    static char env_path[] = "PATH=/usr/bin:/bin";
    char* envp[] = {env_lc, env_lang, env_tz, env_path, nullptr};
    const pid_t parent = ::getpid();
    const bool drop = drop_;
    const uid_t uid = uid_;
    const gid_t gid = gid_;
    const char* log_c = log.c_str();
    const char* dir_c = dir_.c_str();

    pid_t p = ::fork();
    if (p < 0) throw std::runtime_error("fork failed");
    if (p == 0) {
      if (drop && (::setgroups(1, &gid) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0))
        ::_exit(126);
      // After the uid change, which clears the parent-death signal. Its
      // output goes to a file, never to the test's own pipe, which ctest
      // waits on.
      ::prctl(PR_SET_PDEATHSIG, death_signal);
      if (::getppid() != parent) ::_exit(1);
      int fd = ::open(log_c, O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
        ::close(fd);
      }
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) {
        ::dup2(devnull, STDIN_FILENO);
        ::close(devnull);
      }
      if (::chdir(dir_c) != 0) ::_exit(125);
      ::execve(argv[0], argv.data(), envp);
      ::_exit(127);
    }
    return p;
  }

  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool drop_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace sg::testing
