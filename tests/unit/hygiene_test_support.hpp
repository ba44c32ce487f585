// Helpers shared by the message hygiene scanner's unit tests
// (hygiene_*_test.cpp): a message from lines, and a scan that feeds the body
// in every chunking and must find the same whatever the chunks.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "formats/hygiene.hpp"

namespace sg::hygiene {

// A message from lines, joined with CRLF as it travels over SMTP.
inline std::string crlf(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\r\n";
  return out;
}

// Scans `message` with the body in every chunk size 1..N (N = body size) and
// with the body split in two at every byte; every result must equal the
// one-chunk result, which is returned.
inline Findings scan_every_way(const std::string& message) {
  const Findings whole = scan_message(message);
  MessageScanner probe;
  const std::size_t body_at = feed_headers(probe, message);
  const std::string_view body = std::string_view(message).substr(body_at);
  for (std::size_t chunk = 1; chunk <= body.size(); ++chunk) {
    EXPECT_EQ(scan_message(message, chunk), whole) << "chunk size " << chunk;
  }
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    MessageScanner s;
    feed_headers(s, message);
    s.body(body.substr(0, cut));
    s.body(body.substr(cut));
    EXPECT_EQ(s.finish(), whole) << "split at " << cut;
  }
  return whole;
}

}  // namespace sg::hygiene
