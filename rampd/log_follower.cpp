#include "rampd/log_follower.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sg::rampd {

LogFollower::LogFollower(std::string path, bool from_start)
    : path_(std::move(path)), first_open_at_end_(!from_start) {}

LogFollower::~LogFollower() {
  if (fd_ >= 0) ::close(fd_);
}

bool LogFollower::reopen(bool at_end) {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    problem_ = path_ + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    problem_ = path_ + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  inode_ = st.st_ino;
  dev_ = st.st_dev;
  offset_ = at_end ? st.st_size : 0;
  problem_.clear();
  return true;
}

void LogFollower::append(std::string_view segment) {
  if (cutting_) return;
  const std::size_t room = kMaxLine - partial_.size();
  if (segment.size() <= room) {
    partial_.append(segment);
    return;
  }
  partial_.append(segment.substr(0, room));
  cutting_ = true;
  ++cut_lines_;
}

void LogFollower::read_available(std::vector<std::string>& out, std::size_t& budget) {
  char buf[65536];
  while (budget > 0) {
    const std::size_t want = std::min(sizeof buf, budget);
    ssize_t n = ::pread(fd_, buf, want, offset_);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    offset_ += n;
    budget -= static_cast<std::size_t>(n);
    const std::string_view chunk(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = chunk.find('\n', start)) != std::string_view::npos; start = nl + 1) {
      append(chunk.substr(start, nl - start));
      out.push_back(std::move(partial_));
      partial_.clear();
      cutting_ = false;
    }
    append(chunk.substr(start));
  }
}

std::vector<std::string> LogFollower::poll(std::size_t max_bytes) {
  std::vector<std::string> out;
  std::size_t budget = max_bytes;
  if (fd_ < 0) {
    const bool opened = reopen(first_open_at_end_);
    first_open_at_end_ = false;  // a file that appears later is read whole
    if (!opened) return out;
  }
  read_available(out, budget);
  struct stat now {};
  const bool exists = ::stat(path_.c_str(), &now) == 0;
  if (exists && (now.st_ino != inode_ || now.st_dev != dev_)) {
    // Rotated: the old file is finished (read above); the new one from its start.
    if (!partial_.empty()) out.push_back(std::move(partial_));
    partial_.clear();
    cutting_ = false;
    if (reopen(false)) {
      ++rotations_;
      read_available(out, budget);
    }
  } else if (exists && now.st_size < offset_) {
    // Truncated in place (copytruncate).
    partial_.clear();
    cutting_ = false;
    offset_ = 0;
    ++rotations_;
    read_available(out, budget);
  } else if (!exists) {
    problem_ = path_ + ": " + std::strerror(errno) + " (rotated away; waiting for the new file)";
  }
  return out;
}

}  // namespace sg::rampd
