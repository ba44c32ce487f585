// A loopback SMTP server that accepts every message (or refuses the
// recipients a test says, answer_rcpt) and remembers it: the
// HELO/EHLO name the client gave (so a test can tell which Postfix transport
// delivered), the envelope sender, the recipients and the data. One thread
// accepts, one thread per connection (Postfix caches and reuses
// connections). It only ever listens on 127.0.0.1.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sg::e2e {

struct SinkMessage {
  std::string helo;
  std::string mail_from;
  std::vector<std::string> rcpts;                  // bare addresses, no <> or parameters
  std::string data;                                // dot-unstuffed, CRLF line ends
  std::chrono::steady_clock::time_point received;  // when the sink took it
  bool has_rcpt(const std::string& addr) const;
};

class SmtpSink {
 public:
  SmtpSink();  // binds 127.0.0.1:0 and starts serving
  ~SmtpSink();
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  uint16_t port() const { return port_; }

  std::vector<SinkMessage> messages() const;
  // Messages carrying this recipient.
  std::vector<SinkMessage> messages_to(const std::string& rcpt) const;
  // Blocks until some message satisfies pred (or the limit passes); returns
  // whether one did. Woken by each arrival, no polling.
  bool wait_for(const std::function<bool(const SinkMessage&)>& pred,
                std::chrono::milliseconds limit);
  bool wait_for_rcpt(const std::string& rcpt, std::chrono::milliseconds limit);
  // How RCPT TO is answered: `answer(rcpt)` returns the whole reply line for
  // a recipient the sink refuses ("550 5.1.1 ...", "451 4.4.4 ..."), or ""
  // to accept it (the default for everyone).
  void answer_rcpt(std::function<std::string(const std::string& rcpt)> answer) {
    std::lock_guard lk(mu_);
    rcpt_answer_ = std::move(answer);
  }

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::condition_variable arrived_;
  std::vector<SinkMessage> messages_;
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
  std::function<std::string(const std::string&)> rcpt_answer_;
};

}  // namespace sg::e2e
