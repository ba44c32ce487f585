#include "queue_helper/serve.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "common/command.hpp"
#include "formats/queue_helper_protocol.hpp"

namespace sg::queue_helper {

namespace {

// A refused request's line, safe to log: printable ASCII, 64 bytes at most.
std::string shown(std::string_view line) {
  if (line.ends_with('\n')) line.remove_suffix(1);
  std::string out;
  for (char c : line.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return line.size() > 64 ? out + "..." : out;
}

void write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the peer left or stalled past the timeout
    done += static_cast<std::size_t>(n);
  }
}

// Up to and with the first '\n'; at most 128 bytes. "" on timeout or EOF.
std::string read_line(int fd) {
  std::string line;
  char c;
  while (line.size() < 128) {
    const ssize_t n = ::recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    line += c;
    if (c == '\n') break;
  }
  return line;
}

// After the answer: what the peer sent beyond the request is read and
// dropped (briefly), since closing on unread bytes resets the connection
// and the peer would lose the answer.
void finish(int fd) {
  ::shutdown(fd, SHUT_WR);
  timeval brief{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &brief, sizeof brief);
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, 0) > 0; ++i) {
  }
}

command::Result refusal(std::string why) {
  command::Result r;
  r.error = "the queue helper refused: " + std::move(why);
  return r;
}

}  // namespace

std::string serve(int fd, const ServeOptions& o) {
  timeval tv{static_cast<time_t>(o.io_timeout_ms / 1000),
             static_cast<suseconds_t>((o.io_timeout_ms % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ucred peer{};
  socklen_t len = sizeof peer;
  std::string log, answer;
  const std::string line = read_line(fd);
  if (line.empty()) {
    // Nothing asked, nothing to refuse: a peer that connected and closed (a
    // second helper checking whether this one is alive).
    log = "a connection sent no request (it closed, or said nothing in time)";
    std::cerr << log << std::endl;
    return log;
  }
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) {
    log = "cannot tell who is asking (SO_PEERCRED): refused";
    answer = encode_result(refusal("the peer's credentials cannot be read"));
  } else if (peer.uid != o.allowed_uid) {
    log = "uid " + std::to_string(peer.uid) + " (pid " + std::to_string(peer.pid) +
          ") is not the allowed uid " + std::to_string(o.allowed_uid) + ": refused";
    answer = encode_result(refusal("uid " + std::to_string(peer.uid) + " is not allowed"));
  } else {
    std::string why;
    const auto req = parse_request(line, why);
    if (!req) {
      log = "uid " + std::to_string(peer.uid) + ": refused '" + shown(line) + "': " + why;
      answer = encode_result(refusal("'" + shown(line) + "': " + why));
    } else {
      const auto argv = command::postfix_argv(o.command_dir, program_of(req->verb), o.config_dir,
                                              arguments_of(*req));
      const auto result = command::run(argv, o.command_timeout_ms);
      log = "uid " + std::to_string(peer.uid) + ": " + verb_name(req->verb) + " " + req->queue_id +
            ": " + command::describe(result, argv);
      answer = encode_result(result);
    }
  }
  // Logged before the answer goes out: whoever got an answer finds its line.
  std::cerr << log << std::endl;
  write_all(fd, answer);
  finish(fd);
  return log;
}

}  // namespace sg::queue_helper
