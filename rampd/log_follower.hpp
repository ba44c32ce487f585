// Follows a growing log file (Postfix's maillog_file, or a syslog file) the
// way `tail -F` does: complete lines only, and across rotation. Polled by
// the caller; no threads, no inotify.
//
// Rotation: when the path names a different file (inode changed) or the file
// got shorter than what was read (truncated in place), the rest of the old
// file is read first, then the new one from its beginning. A file that does
// not exist yet is waited for.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sg::rampd {

class LogFollower {
 public:
  // Lines longer than this are cut (and counted): a log line of Postfix's is
  // far shorter; this bounds memory on a corrupt file.
  static constexpr std::size_t kMaxLine = 16384;

  // from_start: read what the file holds already; otherwise begin at its end.
  LogFollower(std::string path, bool from_start);
  ~LogFollower();
  LogFollower(const LogFollower&) = delete;
  LogFollower& operator=(const LogFollower&) = delete;

  // The complete lines written since the last call (at most max_bytes read).
  std::vector<std::string> poll(std::size_t max_bytes = 4 << 20);

  const std::string& path() const { return path_; }
  bool open() const { return fd_ >= 0; }
  uint64_t rotations() const { return rotations_; }
  uint64_t cut_lines() const { return cut_lines_; }
  // Why the file cannot be read now ("" when it can).
  const std::string& problem() const { return problem_; }

 private:
  bool reopen(bool at_end);
  void read_available(std::vector<std::string>& out, std::size_t& budget);
  void append(std::string_view segment);  // to the line being read, cut at kMaxLine

  std::string path_;
  bool first_open_at_end_;
  int fd_ = -1;
  ino_t inode_ = 0;
  dev_t dev_ = 0;
  off_t offset_ = 0;
  std::string partial_;
  bool cutting_ = false;
  uint64_t rotations_ = 0;
  uint64_t cut_lines_ = 0;
  std::string problem_;
};

}  // namespace sg::rampd
