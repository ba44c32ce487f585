// One helper for tests that look for a phrase in rendered text (a Postfix
// map, a warning): shared so that files built together in one unity
// translation unit do not each define their own.
#pragma once

#include <string>

namespace sg::testing {

inline bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

}  // namespace sg::testing
