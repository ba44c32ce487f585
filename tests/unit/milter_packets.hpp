// Milter wire packets for the tests: 4-byte big-endian length, command, data.
#pragma once

#include <cstdint>
#include <string>

namespace sg::testing {

inline std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff),
          static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}

inline std::string packet(char command, const std::string& data = "") {
  return be32(static_cast<uint32_t>(data.size() + 1)) + command + data;
}

}  // namespace sg::testing
