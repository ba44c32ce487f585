#include "tests/e2e/smtp_sink.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace sg::e2e {

namespace {

// Reads CRLF (or LF) terminated lines from a socket.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  // False on EOF or error.
  bool next(std::string& line) {
    for (;;) {
      auto eol = buf_.find('\n');
      if (eol != std::string::npos) {
        line = buf_.substr(0, eol);
        buf_.erase(0, eol + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return true;
      }
      char chunk[4096];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buf_;
};

bool reply(int fd, const std::string& text) {
  std::string s = text + "\r\n";
  return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// "MAIL FROM:<a@b> SIZE=1" -> "a@b"
std::string path_arg(const std::string& line) {
  auto open = line.find('<');
  auto close = line.find('>', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || close == std::string::npos) return "";
  return line.substr(open + 1, close - open - 1);
}

}  // namespace

bool SinkMessage::has_rcpt(const std::string& addr) const {
  return std::find(rcpts.begin(), rcpts.end(), addr) != rcpts.end();
}

SmtpSink::SmtpSink() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("smtp sink: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(a.sin_port);
  if (::pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("smtp sink: pipe failed");
  acceptor_ = std::thread([this] { accept_loop(); });
}

SmtpSink::~SmtpSink() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);  // wakes each worker's recv
  }
  (void)!::write(wake_[1], "x", 1);
  acceptor_.join();
  // No new workers after the acceptor stopped.
  for (auto& t : workers_) t.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void SmtpSink::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lk(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void SmtpSink::serve(int fd) {
  LineReader in(fd);
  SinkMessage txn;
  std::string helo, line;
  bool in_txn = false;
  if (reply(fd, "220 sink.test ESMTP streamguard e2e sink")) {
    while (in.next(line)) {
      std::string verb = upper(line.substr(0, line.find(' ')));
      std::string arg = line.find(' ') == std::string::npos ? "" : line.substr(line.find(' ') + 1);
      bool ok = true;
      if (verb == "EHLO") {
        helo = arg;
        ok = reply(fd, "250-sink.test") && reply(fd, "250 8BITMIME");
      } else if (verb == "HELO") {
        helo = arg;
        ok = reply(fd, "250 sink.test");
      } else if (verb == "MAIL") {
        txn = SinkMessage{};
        txn.helo = helo;
        txn.mail_from = path_arg(line);
        in_txn = true;
        ok = reply(fd, "250 2.1.0 Ok");
      } else if (verb == "RCPT") {
        if (!in_txn) {
          ok = reply(fd, "503 5.5.1 Error: need MAIL command");
        } else {
          const std::string rcpt = path_arg(line);
          std::string refusal;
          {
            std::lock_guard lk(mu_);
            if (rcpt_answer_) refusal = rcpt_answer_(rcpt);
          }
          if (refusal.empty()) {
            txn.rcpts.push_back(rcpt);
            ok = reply(fd, "250 2.1.5 Ok");
          } else {
            ok = reply(fd, refusal);
          }
        }
      } else if (verb == "DATA") {
        if (!in_txn || txn.rcpts.empty()) {
          ok = reply(fd, "503 5.5.1 Error: need RCPT command");
          continue;
        }
        ok = reply(fd, "354 End data with <CR><LF>.<CR><LF>");
        bool complete = false;
        while (ok && in.next(line)) {
          if (line == ".") {
            complete = true;
            break;
          }
          if (!line.empty() && line[0] == '.') line.erase(0, 1);
          txn.data += line + "\r\n";
        }
        if (!complete) break;
        {
          std::lock_guard lk(mu_);
          txn.received = std::chrono::steady_clock::now();
          messages_.push_back(txn);
          arrived_.notify_all();
        }
        in_txn = false;
        ok = reply(fd, "250 2.0.0 Ok: queued by sink");
      } else if (verb == "RSET") {
        in_txn = false;
        ok = reply(fd, "250 2.0.0 Ok");
      } else if (verb == "NOOP") {
        ok = reply(fd, "250 2.0.0 Ok");
      } else if (verb == "QUIT") {
        reply(fd, "221 2.0.0 Bye");
        break;
      } else {
        ok = reply(fd, "502 5.5.2 Error: command not recognized");
      }
      if (!ok) break;
    }
  }
  std::lock_guard lk(mu_);
  open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  ::close(fd);
}

std::vector<SinkMessage> SmtpSink::messages() const {
  std::lock_guard lk(mu_);
  return messages_;
}

std::vector<SinkMessage> SmtpSink::messages_to(const std::string& rcpt) const {
  std::lock_guard lk(mu_);
  std::vector<SinkMessage> out;
  for (const auto& m : messages_)
    if (m.has_rcpt(rcpt)) out.push_back(m);
  return out;
}

bool SmtpSink::wait_for(const std::function<bool(const SinkMessage&)>& pred,
                        std::chrono::milliseconds limit) {
  std::unique_lock lk(mu_);
  return arrived_.wait_for(lk, limit,
                           [&] { return std::any_of(messages_.begin(), messages_.end(), pred); });
}

bool SmtpSink::wait_for_rcpt(const std::string& rcpt, std::chrono::milliseconds limit) {
  return wait_for([&](const SinkMessage& m) { return m.has_rcpt(rcpt); }, limit);
}

}  // namespace sg::e2e
